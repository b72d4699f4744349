"""`campaign requests list|handled`: open contact requests, and marking one handled."""

from __future__ import annotations

from typing import Annotated

import typer

from campaign_engine.cli.app import (
    DEFAULT_LIMIT,
    LimitOption,
    ListFormat,
    ListFormatOption,
    NowOption,
    RepOption,
    command_group,
    context_of,
    limited,
    out,
    parse_now,
    subcommand,
)
from campaign_engine.cli.tables import print_list
from campaign_engine.core.kinds import RequestOutcome
from campaign_engine.reporting.request_lists import open_requests
from campaign_engine.reps.drafts import rep_by_email
from campaign_engine.reps.request_outcomes import mark_handled

__all__ = ["requests_app"]

requests_app = command_group(
    help="Contact requests: the open ones, and marking one handled.", no_args_is_help=True
)


@subcommand(requests_app, "list", "campaign requests list --unassigned")
def requests_list(
    ctx: typer.Context,
    rep: RepOption = None,
    unassigned: Annotated[
        bool, typer.Option("--unassigned", help="Only those no rep owns (the fallback's).")
    ] = False,
    limit: LimitOption = DEFAULT_LIMIT,
    format: ListFormatOption = ListFormat.table,
) -> None:
    """Open contact requests, newest first, with the contact's words."""
    c = context_of(ctx)
    with c.db.session() as session:
        rep_id = rep_by_email(session, rep).id if rep else None
        lines = open_requests(session, rep_id, unassigned=unassigned)
    shown = limited(lines, limit)
    records: list[dict[str, object]] = [
        {"id": r.id, "contact_email": r.email, "account": r.account, "campaign": r.campaign,
         "step": r.step, "message": r.message, "received_at": r.at.isoformat()}
        for r in shown
    ]  # fmt: skip
    rows = [
        (str(r.id), f"{r.at:%Y-%m-%d %H:%M}", r.email, r.account,
         f"{r.campaign} email {r.step}" if r.step else r.source, r.message or "-")
        for r in shown
    ]  # fmt: skip
    columns = ("id", "received (UTC)", "contact", "account", "from", "their words")
    print_list("Open contact requests", columns, rows, len(lines), format, records,
               right=("id",), empty="No open contact request.")  # fmt: skip


@subcommand(requests_app, "handled", "campaign requests handled 12 --outcome 'meeting booked'")
def requests_handled(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(metavar="ID", help="From `campaign requests list`.")],
    outcome: Annotated[RequestOutcome, typer.Option(help="How it went.")],
    rep: RepOption = None,
    note: Annotated[str, typer.Option(help="Free text kept with it.")] = "",
    now: NowOption = None,
) -> None:
    """Mark a contact request handled: meeting booked, not a fit, or no answer (reported)."""
    c = context_of(ctx)
    with c.db.session() as session:
        done = mark_handled(
            session, request_id, outcome.value, rep or "cli", rep, parse_now(now), note
        )
    out.print(f"Contact request {done.id} handled: {done.outcome}.")
