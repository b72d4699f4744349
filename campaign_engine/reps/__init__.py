"""The rep side: drafts and rep sends, next-step reminders, contact-request alerts, engagement digests, outreach modes."""
