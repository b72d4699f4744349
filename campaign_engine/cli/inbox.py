"""`campaign inbox poll|import`: replies, bounces and complaints from the reply mailbox."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from campaign_engine.cli.app import (
    NowOption,
    command_group,
    context_of,
    err,
    out,
    parse_now,
    subcommand,
)
from campaign_engine.inbound.imap import poll_inbox
from campaign_engine.inbound.pipeline import Failed, mail_in_files, process_isolated

__all__ = ["inbox_app"]

inbox_app = command_group(
    help="Replies, bounces and complaints: read the reply mailbox (IMAP) or mail files.",
    no_args_is_help=True,
)


@subcommand(inbox_app, "poll", "campaign inbox poll")
def inbox_poll(ctx: typer.Context, now: NowOption = None) -> None:
    """Handle the new mail in [inbox] folder once; moved to processed_folder or unmatched_folder
    (failed_folder after 3 failed attempts)."""
    root = context_of(ctx)
    report = poll_inbox(root.db, root.settings, parse_now(now))
    for label, handled in report.handled:
        out.print(f"{label}: {handled}")
    for label, problem in report.failed:
        err.print(f"{label}: {problem}")
    out.print(f"inbox: {report}")
    if report.failed:
        raise typer.Exit(1)


@subcommand(inbox_app, "import", "campaign inbox import replies.mbox bounce-*.eml")
def inbox_import(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help=".eml files and mbox files.")],
    now: NowOption = None,
) -> None:
    """Handle mail exported to files exactly as `inbox poll` would (each message once; one
    that fails is named by file and index, and tried at most 3 times over imports)."""
    root = context_of(ctx)
    moment = parse_now(now)
    failed = 0
    for label, raw in list(mail_in_files(files)):
        outcome = process_isolated(root.db, root.settings, raw, label, moment)
        if isinstance(outcome, Failed):
            failed += 1
            err.print(f"{label}: {outcome}")
        else:
            out.print(f"{label}: {outcome}")
    if failed:
        raise typer.Exit(1)
