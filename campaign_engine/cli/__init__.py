"""The `campaign` command (entry point `campaign_engine.cli:main`).

Every command group lives in its own module; this is the one place they are put on the root
app, in the order a new user meets them: set up the database, import, launch, send, look at the
results, then the day-to-day groups and the deliverability checks. (`campaign --help` lists the
single commands first, then the groups, each in this order.)
"""

from __future__ import annotations

from campaign_engine.cli import (
    campaigns,
    contacts,
    database,
    deliverability,
    digests,
    drafts,
    exclusions,
    inbox,
    launch,
    messages,
    relay,
    stages,
    suppress,
    tokens,
    users,
    webhooks,
)
from campaign_engine.cli.app import app, main

__all__ = ["app", "main"]

app.add_typer(database.db_app, name="db")
app.add_typer(contacts.import_app, name="import")
app.command("launch")(launch.launch)
app.command("tick")(campaigns.tick)
app.command("run")(campaigns.run)
app.command("serve")(campaigns.serve)
app.command("status")(campaigns.status)
app.command("report")(campaigns.report)
app.add_typer(messages.messages_app, name="messages")
app.add_typer(relay.relay_app, name="relay")
app.command("contact-request")(contacts.contact_request)
app.add_typer(inbox.inbox_app, name="inbox")
app.add_typer(contacts.contacts_app, name="contacts")
app.add_typer(drafts.drafts_app, name="drafts")
app.command("reminders")(drafts.reminders_command)
app.add_typer(digests.digests_app, name="digests")
app.command("exclude")(exclusions.exclude)
app.add_typer(exclusions.exclusions_app, name="exclusions")
app.add_typer(suppress.suppress_app, name="suppress")
app.add_typer(stages.stages_app, name="stages")
app.add_typer(users.users_app, name="users")
app.add_typer(tokens.tokens_app, name="tokens")
app.add_typer(webhooks.webhooks_app, name="webhooks")
app.add_typer(deliverability.dkim_app, name="dkim")
app.command("doctor")(deliverability.doctor)
app.command("lint")(deliverability.lint_command)
