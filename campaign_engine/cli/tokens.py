"""`campaign tokens`: bearer tokens of the HTTP API (/api/v1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from campaign_engine.api import tokens
from campaign_engine.api.tokens import ApiRole
from campaign_engine.cli.app import (
    DEFAULT_LIMIT,
    LimitOption,
    ListFormat,
    ListFormatOption,
    command_group,
    context_of,
    err,
    jsonable,
    limited,
    minute,
    out,
    subcommand,
)
from campaign_engine.cli.tables import print_list

__all__ = ["tokens_app"]

tokens_app = command_group(help="Bearer tokens of the HTTP API (/api/v1).", no_args_is_help=True)


@subcommand(tokens_app, "create", "campaign tokens create crm --role integration")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who or what uses it, e.g. crm, warehouse.")],
    role: Annotated[
        ApiRole,
        typer.Option(
            help="ops: everything; rep: one rep's contacts; integration: no launch/forget."
        ),
    ],
    rep: Annotated[
        str | None, typer.Option("--rep", help="Role rep: the rep's email (default: NAME).")
    ] = None,
) -> None:
    """Create a token; it is shown once (only its SHA-256 is stored)."""
    made = tokens.create_token(context_of(ctx).db, name, role.value, datetime.now(UTC), rep)
    who = f" for {made.view.rep_email}" if made.view.rep_email else ""
    err.print(f"token {made.view.name!r} ({made.view.role}{who}); shown once, keep it safe:")
    out.print(made.token)


@subcommand(tokens_app, "list", "campaign tokens list --all")
def list_command(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Revoked tokens too.")] = False,
    limit: LimitOption = DEFAULT_LIMIT,
    format: ListFormatOption = ListFormat.table,
) -> None:
    """Tokens by name: role, created, revoked (never the token itself)."""
    views = tokens.list_tokens(context_of(ctx).existing_db, include_revoked=all_)
    shown = limited(views, limit)
    rows = [
        (v.name, v.role, v.rep_email or "", minute(v.created_at), minute(v.revoked_at))
        for v in shown
    ]
    records = [jsonable(vars(v)) for v in shown]
    columns = ("name", "role", "rep", "created", "revoked")
    print_list("API tokens", columns, rows, len(views), format, records)


@subcommand(tokens_app, "revoke", "campaign tokens revoke crm")
def revoke(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """The token stops working at once (the record stays)."""
    tokens.revoke_token(context_of(ctx).db, name, datetime.now(UTC))
    out.print(f"token {name!r} revoked")
