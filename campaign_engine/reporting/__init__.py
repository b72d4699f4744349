"""What happened: the pure funnel, the report model, exports, the dashboard and its charts, sales stages."""
