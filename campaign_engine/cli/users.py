"""`campaign users add|list|remove`: who may log in to the web app."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

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
    parse_now,
    subcommand,
)
from campaign_engine.cli.tables import print_list

if TYPE_CHECKING:
    from campaign_engine.web.users import UserView

users_app = command_group(help="Who may log in to the web app (/app).", no_args_is_help=True)


class Role(StrEnum):
    ops = "ops"
    rep = "rep"


@subcommand(
    users_app,
    "add",
    "printf '%s' \"$PASS\" | campaign users add ana@example.com --role rep --password-stdin",
)
def users_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL")],
    role: Annotated[
        Role, typer.Option(help="ops: everything; rep: the contacts of their own accounts.")
    ],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="The user exists: set this role and password.")
    ] = False,
) -> None:
    """Add a web-app user (the password is stored as an argon2 hash)."""
    from campaign_engine.web import users

    c = context_of(ctx)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    view = users.add_user(c.db, email, role.value, password, parse_now(None), replace)
    out.print(f"user {view.email} ({view.role}) can log in at {c.settings.tracking_base_url}/app/")
    if view.role == Role.rep and not view.rep_known:
        err.print(
            f"warning: no rep with email {view.email} yet: they will see no contacts until"
            " accounts name them as owner (import contacts with owner_email)"
        )


@subcommand(users_app, "list", "campaign users list --format json")
def users_list(
    ctx: typer.Context,
    limit: LimitOption = DEFAULT_LIMIT,
    format: ListFormatOption = ListFormat.table,
) -> None:
    """Every web-app user, removed ones too."""
    from campaign_engine.web import users

    views = users.list_users(context_of(ctx).existing_db)
    shown = limited(views, limit)
    records = [
        jsonable({"email": v.email, "role": v.role, "created_at": v.created_at,
                  "active": not v.disabled})
        for v in shown
    ]  # fmt: skip
    rows = [(v.email, v.role, minute(v.created_at), _status(v)) for v in shown]
    columns = ("email", "role", "created", "status")
    print_list("Web-app users", columns, rows, len(views), format, records)


def _status(view: UserView) -> str:
    status = "removed" if view.disabled else "active"
    if view.role == Role.rep and not view.rep_known:
        status += " (no such rep: sees no contacts)"
    return status


@subcommand(users_app, "remove", "campaign users remove ana@example.com")
def users_remove(
    ctx: typer.Context, email: Annotated[str, typer.Argument(metavar="EMAIL")]
) -> None:
    """Remove a user: they can't log in any more and their sessions end (the record stays)."""
    from campaign_engine.web import users

    users.remove_user(context_of(ctx).db, email, parse_now(None))
    out.print(f"user {email} removed: they can no longer log in")
