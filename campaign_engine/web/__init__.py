"""The ops console and rep workspace (Starlette + Jinja): pages, log-in and sessions, web-app users."""
