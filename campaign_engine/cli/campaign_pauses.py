"""`campaign campaigns pause|resume NAME`: stop all of a campaign's sending at once, and go on."""

from __future__ import annotations

from typing import Annotated

import typer

from campaign_engine.cli.app import (
    ByOption,
    HiddenNowOption,
    command_group,
    context_of,
    os_user,
    out,
    parse_now,
    subcommand,
)
from campaign_engine.sending.campaign_pause import set_campaign_paused

campaigns_app = command_group(
    help="Pause and resume a campaign (the automatic brakes pause one on bounces or complaints).",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(help="The campaign's name (see `campaign status`).")]


@subcommand(campaigns_app, "pause", "campaign campaigns pause 'premium-to-ultimate 2021-04-27'")
def pause_command(
    ctx: typer.Context, name: NameArgument, by: ByOption = None, now: HiddenNowOption = None
) -> None:
    """Queue and send nothing more of campaign NAME; its queued emails wait, nothing is lost."""
    _set(ctx, name, True, by, now)


@subcommand(campaigns_app, "resume", "campaign campaigns resume 'premium-to-ultimate 2021-04-27'")
def resume_command(
    ctx: typer.Context, name: NameArgument, by: ByOption = None, now: HiddenNowOption = None
) -> None:
    """Send campaign NAME again, paused by ops or by the brakes: its queued emails go out
    with the next tick, and the brakes judge only what it sends from now on."""
    _set(ctx, name, False, by, now)


def _set(ctx: typer.Context, name: str, paused: bool, by: str | None, now: str | None) -> None:
    with context_of(ctx).existing_db.session() as session:
        changed = set_campaign_paused(
            session, name, paused, parse_now(now), by or f"cli ({os_user()})"
        )
    verb = "paused" if paused else "resumed"
    out.print(f"Campaign {name} {verb}." if changed else f"Campaign {name} was already {verb}.")
