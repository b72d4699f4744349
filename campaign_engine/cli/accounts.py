"""`campaign accounts assign`: give an account to a rep (logged)."""

from __future__ import annotations

from typing import Annotated

import typer

from campaign_engine.audience.accounts import assign_account
from campaign_engine.cli.app import NowOption, command_group, context_of, out, parse_now, subcommand

__all__ = ["accounts_app"]

accounts_app = command_group(help="Who owns an account: give it to a rep.", no_args_is_help=True)


@subcommand(accounts_app, "assign", "campaign accounts assign 'Acme Corp' dana@example.com")
def accounts_assign(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(metavar="ACCOUNT", help="The account's name.")],
    rep: Annotated[str, typer.Argument(metavar="REP", help="The rep's email (a known rep).")],
    now: NowOption = None,
) -> None:
    """Make REP the owner of ACCOUNT; logged. Imports never replace an account's rep."""
    c = context_of(ctx)
    with c.db.session() as session:
        done = assign_account(session, account, rep, "cli", parse_now(now))
    out.print(done.sentence())
