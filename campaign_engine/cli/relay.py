"""`campaign relay status|resume`: is sending paused because of the SMTP relay, and resume it."""

from __future__ import annotations

import typer

from campaign_engine.cli.app import NowOption, command_group, context_of, out, parse_now, subcommand
from campaign_engine.sending import relay_state

__all__ = ["relay_app"]

relay_app = command_group(
    help="The SMTP relay: is sending paused, and resume it.", no_args_is_help=True
)


@subcommand(relay_app, "status", "campaign relay status")
def relay_status(ctx: typer.Context, now: NowOption = None) -> None:
    """Say whether sending is paused because of the relay, since when and why."""
    c = context_of(ctx)
    out.print(relay_state.pause_status(c.existing_db, c.settings, parse_now(now)).line)


@subcommand(relay_app, "resume", "campaign relay resume")
def relay_resume(ctx: typer.Context, now: NowOption = None) -> None:
    """End a pause (once the relay or the password is fixed): the next tick sends again."""
    c = context_of(ctx)
    pause = relay_state.current_pause(c.db)
    if not relay_state.clear_pause(c.db):
        out.print("sending was not paused.")
        return
    line = relay_state.describe_pause(pause, c.settings.timezone, parse_now(now))
    out.print(f"resumed: {line.split('; ')[0]}; the next tick tries the relay again.")
