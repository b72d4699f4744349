"""`campaign suppress list|add|remove|import`: global, permanent suppression."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from campaign_engine.audience import imports, suppression
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
    parse_now,
    subcommand,
)
from campaign_engine.cli.csv_input import report_rejected
from campaign_engine.cli.tables import print_list
from campaign_engine.core.errors import NotFound
from campaign_engine.core.kinds import SuppressReason

suppress_app = command_group(
    help="Global, permanent suppression (unsubscribes, bounces, complaints).", no_args_is_help=True
)


@subcommand(suppress_app, "list", "campaign suppress list --reason bounce --format csv")
def suppress_list_command(
    ctx: typer.Context,
    reason: Annotated[str | None, typer.Option(help="Only this reason.")] = None,
    limit: LimitOption = DEFAULT_LIMIT,
    format: ListFormatOption = ListFormat.table,
) -> None:
    """Suppressed addresses, oldest first: when, why and from what source."""
    every = suppression.list_suppressions(context_of(ctx).existing_db, reason)
    shown = limited(every, limit)
    rows = [(s.email, s.reason, minute(s.created_at), s.source) for s in shown]
    records = [
        jsonable({"email": s.email, "reason": s.reason, "since": s.created_at, "source": s.source})
        for s in shown
    ]
    columns = ("email", "reason", "since", "source")
    print_list("Suppressed addresses", columns, rows, len(every), format, records)


@subcommand(suppress_app, "add", "campaign suppress add someone@example.com")
def suppress_add_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Address to suppress.")],
    reason: Annotated[SuppressReason, typer.Option(help="Why.")] = SuppressReason.MANUAL,
) -> None:
    """Never send marketing mail to EMAIL again, in any campaign."""
    address = _clean(email)
    with context_of(ctx).db.session() as session:
        added = suppression.add_suppression(session, address, reason, "cli", parse_now(None))
    out.print(f"{address} suppressed ({reason})" if added else f"{address} was already suppressed")


@subcommand(suppress_app, "remove", "campaign suppress remove someone@example.com")
def suppress_remove_command(
    ctx: typer.Context, email: Annotated[str, typer.Argument(help="Address to mail again.")]
) -> None:
    """Lift a suppression (only when the person asked to be mailed again)."""
    address = _clean(email)
    if not suppression.remove_suppression(context_of(ctx).db, address):
        raise NotFound(f"{address} is not suppressed")
    out.print(f"{address} is no longer suppressed")


@subcommand(suppress_app, "import", "campaign suppress import unsubscribes.csv")
def suppress_import_command(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="CSV with an email/recipient column."),
    ],
    reason: Annotated[SuppressReason, typer.Option(help="Why.")] = SuppressReason.COMPLAINT,
) -> None:
    """Suppress every address of a feedback-loop, bounce or unsubscribe report."""
    result = suppression.import_suppressions(context_of(ctx).db, file, reason, parse_now(None))
    out.print(
        f"{result.file}: {result.rows} row(s): {result.added} suppressed ({reason}), "
        f"{result.already} already, {len(result.rejected)} rejected"
    )
    report_rejected(result, "valid rows were applied", None)


def _clean(email: str) -> str:
    try:
        return imports.clean_email(email)
    except ValueError as exc:
        raise typer.BadParameter(f"{email!r}: {exc}", param_hint="EMAIL") from None
