"""The `campaign` command (entry point `campaign_engine.cli:main`).

Every command group lives in its own module; this is the one place they are put on the root
app, each in a help panel, in workflow order: set up, launch and send, follow up, keep people out,
integrations (`campaign --help` lists them in this order), each with an example line.
"""

from __future__ import annotations

from campaign_engine.cli import (
    accounts,
    campaign_pauses,
    campaigns,
    contacts,
    database,
    deliverability,
    digests,
    drafts,
    exclusions,
    imports,
    inbox,
    launch,
    messages,
    rehearse,
    relay,
    requests,
    setup,
    stages,
    suppress,
    tokens,
    users,
    webhooks,
)
from campaign_engine.cli.app import app, command, group, main

__all__ = ["app", "main"]

SET_UP = "1. Set up"
SEND = "2. Launch and send"
FOLLOW_UP = "3. Follow up"
KEEP_OUT = "4. Keep people out"
INTEGRATIONS = "5. Integrations"

command("init", setup.init, SET_UP, "campaign init --user")
group("db", database.db_app, SET_UP, "campaign db upgrade")
group(
    "import",
    contacts.import_app,
    SET_UP,
    "campaign import contacts contacts.csv --errors rejected.csv",
)
group("imports", imports.imports_app, SET_UP, "campaign imports revert 7 --reason 'wrong file'")
group("users", users.users_app, SET_UP, "campaign users add ops@example.com --role ops")
group(
    "dkim",
    deliverability.dkim_app,
    SET_UP,
    "campaign dkim keygen --selector s1 --domain example.com",
)
command("doctor", deliverability.doctor, SET_UP, "campaign doctor --no-smtp")
command("lint", deliverability.lint_command, SET_UP, "campaign lint premium-to-ultimate")

command(
    "rehearse",
    rehearse.rehearse_command,
    SEND,
    "campaign rehearse premium-to-ultimate --start 2021-04-27 --out recipients.csv",
)
command(
    "launch",
    launch.launch,
    SEND,
    "campaign launch premium-to-ultimate --start 2021-04-27 --dry-run",
)
command("tick", campaigns.tick, SEND, "campaign tick --now 2021-04-27T09:00 --json-logs")
command("run", campaigns.run, SEND, "campaign run --port 8080 --quiet")
command("serve", campaigns.serve, SEND, "campaign serve --host 0.0.0.0 --port 8080 --workers 4")
group("relay", relay.relay_app, SEND, "campaign relay status")
group("campaigns", campaign_pauses.campaigns_app, SEND, "campaign campaigns resume spring-2021")
group("inbox", inbox.inbox_app, SEND, "campaign inbox poll")

command(
    "status",
    campaigns.status,
    FOLLOW_UP,
    "campaign status --campaign 'premium-to-ultimate 2021-04-27'",
)
command("report", campaigns.report, FOLLOW_UP, "campaign report --format html --out report.html")
group("messages", messages.messages_app, FOLLOW_UP, "campaign messages --state failed --limit 20")
command(
    "contact-request",
    contacts.contact_request,
    FOLLOW_UP,
    "campaign contact-request ana@acme.example --note 'call me Tuesday'",
)
group("requests", requests.requests_app, FOLLOW_UP, "campaign requests list --unassigned")
group(
    "accounts",
    accounts.accounts_app,
    FOLLOW_UP,
    "campaign accounts assign 'Acme Corp' dana@example.com",
)
group("contacts", contacts.contacts_app, FOLLOW_UP, "campaign contacts export ana@acme.example")
group("drafts", drafts.drafts_app, FOLLOW_UP, "campaign drafts list --rep rep@example.com")
command(
    "reminders", drafts.reminders_command, FOLLOW_UP, "campaign reminders --rep rep@example.com"
)
group("digests", digests.digests_app, FOLLOW_UP, "campaign digests preview --rep rep@example.com")

command("exclude", exclusions.exclude, KEEP_OUT, "campaign exclude do-not-contact.csv --dry-run")
group(
    "exclusions",
    exclusions.exclusions_app,
    KEEP_OUT,
    "campaign exclusions list --campaign 'premium-to-ultimate 2021-04-27'",
)
group("suppress", suppress.suppress_app, KEEP_OUT, "campaign suppress add someone@example.com")

group("tokens", tokens.tokens_app, INTEGRATIONS, "campaign tokens create crm --role integration")
group(
    "webhooks",
    webhooks.webhooks_app,
    INTEGRATIONS,
    "campaign webhooks add https://crm.example/hook --events reply,bounce",
)
group("stages", stages.stages_app, INTEGRATIONS, "campaign stages set ana@acme.example 3")
