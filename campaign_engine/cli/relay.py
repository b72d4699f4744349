"""`campaign relay status|resume`: is sending paused because of an SMTP relay, and resume it."""

from __future__ import annotations

from typing import Annotated

import typer

from campaign_engine.cli.app import NowOption, command_group, context_of, out, parse_now, subcommand
from campaign_engine.core.errors import NotFound
from campaign_engine.sending import relay_state

__all__ = ["relay_app"]

relay_app = command_group(
    help="The SMTP relays: is sending paused, and resume it.", no_args_is_help=True
)


@subcommand(relay_app, "status", "campaign relay status")
def relay_status(ctx: typer.Context, now: NowOption = None) -> None:
    """Say whether sending is paused because of a relay, since when and why; with several
    relays, then each one's state and its share of the last 24 hours' sends."""
    c = context_of(ctx)
    moment = parse_now(now)
    out.print(relay_state.pause_status(c.existing_db, c.settings, moment).line)
    if len(c.settings.relays) > 1:
        for relay in relay_state.relay_statuses(c.existing_db, c.settings, moment):
            out.print(relay.line)


@subcommand(relay_app, "resume", "campaign relay resume")
def relay_resume(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(metavar="[NAME]", help="Only this relay (default: every relay)."),
    ] = None,
    now: NowOption = None,
) -> None:
    """End a pause (once the relay or the password is fixed): the next tick sends again."""
    c = context_of(ctx)
    names = [relay.name for relay in c.settings.relays]
    if name is not None and name not in names:
        raise NotFound(f"no relay named {name!r}; the relays: {', '.join(names)}")
    pauses = [p for p in relay_state.current_pauses(c.db) if name in (None, p.relay)]
    if not relay_state.clear_pause(c.db, name):
        out.print("sending was not paused." if name is None else f"relay {name} was not paused.")
        return
    moment = parse_now(now)
    for pause in pauses:
        line = relay_state.describe_pause(pause, c.settings, moment).split("; ")[0]
        if len(names) > 1:
            line = f"relay {pause.relay}: {line.replace('sending paused', 'paused', 1)}"
        out.print(f"resumed: {line}; the next tick tries the relay again.")
