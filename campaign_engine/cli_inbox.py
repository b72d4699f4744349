"""`campaign inbox poll|import`: replies, bounces and complaints from the reply mailbox.

(Its place is campaign_engine/cli/inbox.py once the CLI is a package; it only needs the root
context object, `ctx.find_root().obj`, with `.settings` and `.db`.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from campaign_engine.core.errors import InvalidInput
from campaign_engine.inbound.imap import poll_inbox
from campaign_engine.inbound.pipeline import mail_in_files, process_mail
from campaign_engine.store.models import utc

__all__ = ["inbox_app"]

inbox_app = typer.Typer(
    help="Replies, bounces and complaints: read the reply mailbox (IMAP) or mail files.",
    no_args_is_help=True,
)
out = Console(highlight=False, markup=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)
NowOption = Annotated[
    str | None, typer.Option("--now", help="Act as of this ISO-8601 moment (default: now).")
]


@inbox_app.command("poll")
def inbox_poll(ctx: typer.Context, now: NowOption = None) -> None:
    """Handle the new mail in [inbox] folder once; moved to processed_folder or unmatched_folder."""
    root = _root(ctx)
    report = poll_inbox(root.db, root.settings, _now(now))
    for label, handled in report.handled:
        out.print(f"{label}: {handled}")
    for label, problem in report.failed:
        err.print(f"{label}: not handled ({problem}); left in place, tried again at the next poll")
    out.print(f"inbox: {report}")
    if report.failed:
        raise typer.Exit(1)


@inbox_app.command("import")
def inbox_import(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help=".eml files and mbox files.")],
    now: NowOption = None,
) -> None:
    """Handle mail exported to files exactly as `inbox poll` would (each message once)."""
    root = _root(ctx)
    moment = _now(now)
    failed = 0
    for label, raw in list(mail_in_files(files)):
        try:
            handled = process_mail(root.db, root.settings, raw, label, moment)
        except InvalidInput as exc:
            failed += 1
            err.print(f"{label}: not handled: {exc}")
            continue
        out.print(f"{label}: {handled}")
    if failed:
        raise typer.Exit(1)


def _root(ctx: typer.Context) -> Any:
    return ctx.find_root().obj


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        return utc(datetime.fromisoformat(value))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO-8601 date-time", param_hint="--now"
        ) from None
