"""`campaign imports`: the contact imports made, and undoing one as a whole."""

from __future__ import annotations

from typing import Annotated

import typer

from campaign_engine.audience import import_undo
from campaign_engine.cli.app import (
    DEFAULT_LIMIT,
    ByOption,
    HiddenNowOption,
    LimitOption,
    ListFormat,
    ListFormatOption,
    command_group,
    context_of,
    jsonable,
    minute,
    os_user,
    out,
    parse_now,
    print_more,
    subcommand,
)
from campaign_engine.cli.tables import print_list

imports_app = command_group(
    help="Contact imports: list them, revert one as a whole.", no_args_is_help=True
)
SHOWN = 20  # contacts kept by a revert that are listed by name


@subcommand(imports_app, "list", "campaign imports list --limit 10")
def imports_list(
    ctx: typer.Context,
    limit: LimitOption = DEFAULT_LIMIT,
    format: ListFormatOption = ListFormat.table,
) -> None:
    """Contact imports newest first: file, who, when, what they created and changed."""
    with context_of(ctx).existing_db.session() as session:
        views, total = import_undo.list_imports(session, limit or 1_000_000_000)
    rows = [
        (str(v.id), v.state, v.file, str(v.rows), str(v.created), str(v.updated), v.created_by,
         minute(v.created_at),
         f"{minute(v.reverted_at)} by {v.reverted_by}: {v.revert_reason}" if v.reverted_at
         else "")
        for v in views
    ]  # fmt: skip
    columns = ("id", "state", "file", "rows", "created", "updated", "by", "at", "reverted")
    print_list("Contact imports", columns, rows, total, format,
               [jsonable(vars(v)) for v in views],
               right=("id", "rows", "created", "updated"))  # fmt: skip


@subcommand(imports_app, "revert", "campaign imports revert 7 --reason 'wrong file'")
def imports_revert(
    ctx: typer.Context,
    import_id: Annotated[int, typer.Argument(metavar="ID", help="From `campaign imports list`.")],
    reason: Annotated[str, typer.Option(help="Why (required; kept with the import).")] = "",
    by: ByOption = None,
    now: HiddenNowOption = None,
) -> None:
    """Undo an import: its changes to existing contacts go back, the contacts it created go
    unless something refers to them (messages, enrollments...); what is kept is listed."""
    done = import_undo.revert_import(
        context_of(ctx).db, import_id, by or os_user(), reason, parse_now(now)
    )
    out.print(
        f"import {done.import_id} ({done.file}) reverted: {done.restored} contact(s) restored"
        f" to their values before it, {done.removed} contact(s) it created removed,"
        f" {len(done.kept)} kept"
    )
    for email, why in done.kept[:SHOWN]:
        out.print(f"  kept {email}: {why}")
    print_more(len(done.kept) - SHOWN, "the rest were kept for the same reasons")
