"""`campaign webhooks`: receivers of event notifications, a test delivery, the delivery log."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer

from campaign_engine.cli.app import (
    DEFAULT_LIMIT,
    LimitOption,
    ListFormat,
    ListFormatOption,
    command_group,
    context_of,
    jsonable,
    limited,
    minute,
    out,
    subcommand,
)
from campaign_engine.cli.tables import print_list
from campaign_engine.engine import webhooks
from campaign_engine.engine.webhook_payloads import EVENT_TYPES
from campaign_engine.engine.webhook_sender import deliver_due

__all__ = ["webhooks_app"]

webhooks_app = command_group(
    help="Webhooks: POST signed JSON to other systems when contacts act.", no_args_is_help=True
)


class Format(StrEnum):
    json = "json"
    slack = "slack"


@subcommand(
    webhooks_app, "add", "campaign webhooks add https://crm.example/hook --events reply,bounce"
)
def add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="http(s) URL that receives the POSTs.")],
    events: Annotated[str, typer.Option(help=f"Comma-separated: {','.join(EVENT_TYPES)}.")],
    secret: Annotated[
        str | None, typer.Option(help="Signing secret (default: a new whsec_... one, shown once).")
    ] = None,
    format: Annotated[
        Format, typer.Option("--format", help="json (the event) or slack (incoming webhook text).")
    ] = Format.json,
) -> None:
    """Register a receiver; it is told about events from now on."""
    hook = webhooks.add_webhook(
        context_of(ctx).db, url, events, datetime.now(UTC), secret, format.value
    )
    out.print(f"webhook {hook.id}: {hook.url} ({hook.format}) for {hook.events}")
    if secret is None:
        out.print(f"signing secret (shown once): {hook.secret}")


@subcommand(webhooks_app, "list", "campaign webhooks list")
def list_command(
    ctx: typer.Context,
    limit: LimitOption = DEFAULT_LIMIT,
    format: ListFormatOption = ListFormat.table,
) -> None:
    """Active receivers (secrets are never shown)."""
    hooks = webhooks.list_webhooks(context_of(ctx).existing_db)
    shown = limited(hooks, limit)
    rows = [(str(h.id), h.url, h.format, h.events, minute(h.created_at)) for h in shown]
    records = [
        jsonable({"id": h.id, "url": h.url, "format": h.format, "events": h.events,
                  "created_at": h.created_at})
        for h in shown
    ]  # fmt: skip
    columns = ("id", "url", "format", "events", "created")
    print_list("Webhooks", columns, rows, len(hooks), format, records, right=("id",))


@subcommand(webhooks_app, "remove", "campaign webhooks remove 3")
def remove(ctx: typer.Context, webhook_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Stop a receiver; its pending deliveries are dropped, the log stays."""
    hook = webhooks.remove_webhook(context_of(ctx).db, webhook_id, datetime.now(UTC))
    out.print(f"webhook {webhook_id} ({hook.url}) removed")


@subcommand(webhooks_app, "test", "campaign webhooks test 3")
def test(ctx: typer.Context, webhook_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Send a `test` event now (signed like every delivery); exit 1 unless it was taken."""
    db = context_of(ctx).db
    now = datetime.now(UTC)
    delivery_id = webhooks.queue_test(db, webhook_id, now)
    state = asyncio.run(deliver_due(db, now, only=delivery_id))
    (shown,) = [d for d in webhooks.delivery_log(db, webhook_id, limit=5) if d.id == delivery_id]
    detail = f"HTTP {shown.last_status}" if shown.last_status else (shown.error or "")
    out.print(f"test delivery {shown.uid}: {shown.state} ({detail})")
    if "sent" not in state:
        raise typer.Exit(1)


@subcommand(webhooks_app, "log", "campaign webhooks log --state failed --limit 20")
def log_command(
    ctx: typer.Context,
    webhook_id: Annotated[int | None, typer.Option("--webhook", help="Only this receiver.")] = None,
    state: Annotated[
        str | None, typer.Option(help="queued, sending, retry, sent, failed or skipped.")
    ] = None,
    limit: LimitOption = DEFAULT_LIMIT,
    format: ListFormatOption = ListFormat.table,
) -> None:
    """Deliveries, newest first: state, attempts, the receiver's last answer, next attempt."""
    db = context_of(ctx).existing_db
    shown = webhooks.delivery_log(db, webhook_id, state, limit)
    total = webhooks.count_deliveries(db, webhook_id, state) if limit else len(shown)
    rows = [
        (str(d.id), str(d.webhook_id), d.event_type, d.state, str(d.attempts),
         str(d.last_status) if d.last_status else (d.error or ""),
         minute(d.next_attempt_at) if d.state in ("queued", "retry") else minute(d.delivered_at),
         d.uid)
        for d in shown
    ]  # fmt: skip
    columns = ("id", "webhook", "event", "state", "attempts", "last", "next", "webhook-id")
    records = [jsonable(vars(d)) for d in shown]
    print_list("Webhook deliveries", columns, rows, total, format, records,
               right=("id", "webhook", "attempts"))  # fmt: skip
