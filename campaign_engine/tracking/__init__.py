"""Opens, clicks, contact pages and unsubscribes: hit recording, bot rules and the tracking routes."""
