"""`campaign inbox poll|import|review`: replies, bounces and complaints from the reply mailbox,
and the mail held for a person."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from campaign_engine.cli.accounts import alert_now
from campaign_engine.cli.app import (
    ByOption,
    NowOption,
    command_group,
    context_of,
    err,
    minute,
    os_user,
    out,
    parse_now,
    subcommand,
)
from campaign_engine.core.kinds import ReviewStatus
from campaign_engine.inbound.decisions import apply_review, dismiss_review
from campaign_engine.inbound.imap import poll_inbox
from campaign_engine.inbound.pipeline import Failed, mail_in_files, process_isolated
from campaign_engine.inbound.review import reviews

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
    moment = parse_now(now)
    report = poll_inbox(root.db, root.settings, moment)
    alert_now(root, moment)  # a reply is a contact request: its rep hears of it now
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
    alert_now(root, moment)  # a reply is a contact request: its rep hears of it now
    if failed:
        raise typer.Exit(1)


review_app = command_group(
    help="Mail held for a person: reports without proof, over the hourly limit, and replies"
    " naming nothing we sent. Nothing was changed; apply or dismiss each.",
    no_args_is_help=True,
)
inbox_app.add_typer(review_app, name="review", epilog="Example: campaign inbox review list")


@subcommand(review_app, "list", "campaign inbox review list --all")
def review_list(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Decided ones too.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 100,
) -> None:
    """The held mail, newest first: what it is, whom it names, and why it was held."""
    root = context_of(ctx)
    with root.db.session() as session:
        rows, total = reviews(session, None if all_ else ReviewStatus.OPEN, 0, limit)
    table = Table(title=f"Held for review ({total}{', decided included' if all_ else ' open'})")
    for column in ("#", "received", "kind", "about", "from", "subject", "why held", "status"):
        table.add_column(column)
    for row in rows:
        status = str(row.status)
        if row.status != ReviewStatus.OPEN:
            status = f"{row.status} by {row.decided_by} {minute(row.decided_at)}"
        table.add_row(str(row.id), minute(row.received_at), row.kind, row.address or "-",
                      row.sender or "-", row.subject, row.reason, status)  # fmt: skip
    out.print(table)


ReviewIds = Annotated[list[int], typer.Argument(help="Review numbers (from `list`).")]


@subcommand(review_app, "apply", "campaign inbox review apply 3 --address pat@team.example")
def review_apply(
    ctx: typer.Context,
    ids: ReviewIds,
    address: Annotated[
        str | None, typer.Option(help="The contact it is about (default: the one it names).")
    ] = None,
    by: ByOption = None,
    now: NowOption = None,
) -> None:
    """Have held mail act after all: a complaint or bounce suppresses, a reply becomes a contact
    request, an unsubscribe unsubscribes."""
    root = context_of(ctx)
    moment, who = parse_now(now), by or os_user()
    for review_id in ids:
        out.print(str(apply_review(root.db, root.settings, review_id, who, moment, address)))


@subcommand(review_app, "dismiss", "campaign inbox review dismiss 3 4")
def review_dismiss(
    ctx: typer.Context, ids: ReviewIds, by: ByOption = None, now: NowOption = None
) -> None:
    """Decide that held mail changes nothing (recorded with who and when)."""
    root = context_of(ctx)
    moment, who = parse_now(now), by or os_user()
    for review_id in ids:
        out.print(str(dismiss_review(root.db, review_id, who, moment)))
