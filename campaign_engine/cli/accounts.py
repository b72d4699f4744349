"""`campaign accounts assign`: give an account to a rep (logged); its open contact requests
move to the rep, who is alerted at once."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import typer

from campaign_engine.audience.accounts import assign_account
from campaign_engine.cli.app import (
    Context,
    NowOption,
    command_group,
    context_of,
    out,
    parse_now,
    subcommand,
)
from campaign_engine.reps import unowned_drafts
from campaign_engine.reps.alerts import send_alerts_now
from campaign_engine.reps.request_alerts import hand_over_requests
from campaign_engine.sending.transport import make_transport

__all__ = ["accounts_app", "alert_now"]

accounts_app = command_group(help="Who owns an account: give it to a rep.", no_args_is_help=True)


@subcommand(accounts_app, "assign", "campaign accounts assign 'Acme Corp' dana@example.com")
def accounts_assign(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(metavar="ACCOUNT", help="The account's name.")],
    rep: Annotated[str, typer.Argument(metavar="REP", help="The rep's email (a known rep).")],
    now: NowOption = None,
) -> None:
    """Make REP the owner of ACCOUNT (logged); its open contact requests move to REP, who is
    alerted at once. Imports never replace an account's rep."""
    c = context_of(ctx)
    moment = parse_now(now)
    with c.db.session() as session:
        drafts = unowned_drafts.waiting(session, account=account)
        done = assign_account(session, account, rep, "cli", moment)
    out.print(done.sentence() + unowned_drafts.handed_over(drafts, done.rep_email))
    alert_now(c, moment)


def alert_now(c: Context, moment: datetime) -> tuple[int, int]:
    """Move open contact requests to the accounts' reps and send every alert due, at once;
    prints what moved. Returns (requests moved, alerts the relay took)."""
    moved = hand_over_requests(c.db, c.settings, moment)
    sent = asyncio.run(
        send_alerts_now(c.db, c.settings, lambda: make_transport(c.settings), moment)
    )
    if moved:
        out.print(f"{moved} open contact request(s) moved to their account's rep, who is alerted.")
    return moved, sent
