"""Getting email out: the pure planner, the dispatcher, the send-time gate, rendering, MIME, DKIM, transports, throttling, recovery."""
