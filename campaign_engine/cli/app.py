"""The root of the `campaign` command and what its command groups share.

The root typer app and its options (--config, --verbose), the `Context` every command reads its
settings and database from, the consoles, shared option aliases and output helpers, and `main()`:
the one place that turns errors into a message and a non-zero exit. The command groups live in
the sibling modules; `campaign_engine.cli` registers them on `app`.
"""

from __future__ import annotations

import csv
import getpass
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import exc as sa_exc

from campaign_engine.audience.csvfile import csv_safe
from campaign_engine.cli.logs import setup_logging
from campaign_engine.core.config import Settings, load_settings
from campaign_engine.core.errors import CampaignEngineError, ConfigError
from campaign_engine.store.db import Database, database_exists, redacted_url
from campaign_engine.store.models import utc

__all__ = [
    "DEFAULT_LIMIT",
    "ByOption",
    "CampaignOption",
    "Context",
    "Format",
    "FormatOption",
    "JsonLogsOption",
    "LimitOption",
    "ListFormat",
    "ListFormatOption",
    "NowOption",
    "OutOption",
    "QuietOption",
    "RepOption",
    "app",
    "command",
    "command_group",
    "context_of",
    "emit_json",
    "err",
    "group",
    "jsonable",
    "limited",
    "main",
    "minute",
    "os_user",
    "out",
    "parse_now",
    "print_more",
    "subcommand",
    "write_csv_rows",
]


T = TypeVar("T")

# Root commands and groups in workflow order, as `command()` and `group()` register them.
WORKFLOW: list[str] = []


class _PlainFlags:
    """Flags shown as plain flags in --help: typer would print a `<bool>` type next to each."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_bool_flag", False):
                param.metavar = ""
        return params


class Command(_PlainFlags, typer.core.TyperCommand):
    """Every command of `campaign`: plain flags in its help."""


class Group(_PlainFlags, typer.core.TyperGroup):
    """Every command group of `campaign`: plain flags in its help."""


class RootGroup(Group):
    """The root group: commands and groups listed in workflow order (typer would put every
    single command before every group)."""

    def list_commands(self, ctx: Any) -> list[str]:
        order = {name: i for i, name in enumerate(WORKFLOW)}
        return sorted(super().list_commands(ctx), key=lambda name: order.get(name, len(order)))


app = typer.Typer(
    cls=RootGroup,
    help="Run B2B email campaigns: import contacts, launch sequences, send on schedule.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def command(name: str, function: Any, panel: str, example: str) -> None:
    """Put a command on the root app, in help panel `panel`, with an example line."""
    WORKFLOW.append(name)
    app.command(name, cls=Command, rich_help_panel=panel, epilog=f"Example: {example}")(function)


def group(name: str, sub_app: typer.Typer, panel: str, example: str) -> None:
    """Put a command group on the root app, in help panel `panel`, with an example line."""
    WORKFLOW.append(name)
    app.add_typer(sub_app, name=name, rich_help_panel=panel, epilog=f"Example: {example}")


def command_group(help: str, **options: Any) -> typer.Typer:
    """A command group's typer app (its commands come from `subcommand`)."""
    return typer.Typer(cls=Group, help=help, **options)


def subcommand(
    sub_app: typer.Typer, name: str, example: str, hidden: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: put a command in group `sub_app`, with an example line in its help."""
    return sub_app.command(name, cls=Command, hidden=hidden, epilog=f"Example: {example}")


# markup off: CSV cells, names and reasons are printed as they are ("[/b]" must not crash),
# soft wrap: one message per line, whatever the width, so scripts can grep file:line;
# the few styled lines pass markup=True and escape() what they interpolate.
out = Console(highlight=False, markup=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)


# Options more than one group takes.
CampaignOption = Annotated[str | None, typer.Option(help="Only this campaign.")]
RepOption = Annotated[
    str | None,
    typer.Option("--rep", help="Act as this rep: only their contacts' drafts (default: all)."),
]
NowOption = Annotated[
    str | None, typer.Option(help="Pretend it is this ISO-8601 moment (default: now).")
]
ByOption = Annotated[str | None, typer.Option("--by", help="Who does this (default: the OS user).")]
HiddenNowOption = Annotated[
    str | None, typer.Option(hidden=True, help="Pretend it is this ISO-8601 moment (tests).")
]


class Format(StrEnum):
    table = "table"
    json = "json"


FormatOption = Annotated[Format, typer.Option("--format", help="table or json.")]


class ListFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


ListFormatOption = Annotated[ListFormat, typer.Option("--format", help="table, json or csv.")]
DEFAULT_LIMIT = 50  # rows a list prints unless told otherwise
LimitOption = Annotated[
    int, typer.Option("--limit", min=0, help="At most this many rows (0 = all).")
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", dir_okay=False, help="Write every detail to this CSV file."),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Log only warnings and errors.")]
JsonLogsOption = Annotated[
    bool,
    typer.Option(
        "--json-logs",
        help="Log one JSON object per line (time, level, logger, message, counts).",
    ),
]


@dataclass
class Context:
    """What every command needs: settings and the database, opened on first use."""

    config: Path | None
    verbose: bool

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.config)

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    @cached_property
    def existing_db(self) -> Database:
        """The database for a command that only reads: one that does not exist yet is an
        error naming its URL, never created empty (a wrong config would look like no data)."""
        if not database_exists(self.settings.database_url):
            raise ConfigError(
                f"database {redacted_url(self.settings.database_url)} not found"
                f" (database_url in {self.settings.config_path}); nothing was created: check"
                " database_url, or create it with `campaign db upgrade` (PostgreSQL: createdb first)"
            )
        return self.db

    def close(self) -> None:
        if "db" in self.__dict__:  # only if a command opened it
            self.db.dispose()


def context_of(ctx: typer.Context) -> Context:
    """The `Context` the root callback put on the command line's context."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file (default: $CAMPAIGN_CONFIG, else config.toml here or in a folder"
            " above, else your user config folder's campaign-engine/config.toml).",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log details and tracebacks.")
    ] = False,
) -> None:
    setup_logging(verbose=verbose)
    ctx.obj = Context(config, verbose)
    ctx.call_on_close(ctx.obj.close)


def parse_now(value: str | None) -> datetime:
    """The moment a --now option names (ISO-8601, as UTC), or the current time when not given."""
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO-8601 date-time", param_hint="--now"
        ) from None
    return utc(moment)


def emit_json(records: list[dict[str, object]]) -> None:
    """Plain JSON on stdout (rich's highlighter is slow on thousands of rows)."""
    sys.stdout.write(json.dumps(records, indent=2, ensure_ascii=False) + "\n")


def os_user() -> str:
    """Who runs the command, for audit records (`--by` overrides it)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def jsonable(record: dict[str, Any]) -> dict[str, object]:
    """A record with its date-times as ISO-8601 text."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in record.items()}


def write_csv_rows(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A list as CSV on stdout (cells a spreadsheet would run are neutralised)."""
    writer = csv.writer(sys.stdout)
    writer.writerow(columns)
    writer.writerows([csv_safe(str(cell)) for cell in row] for row in rows)


def limited(items: Sequence[T], limit: int) -> Sequence[T]:
    """The first `limit` items (all of them when `limit` is 0)."""
    return items[: limit or None]


def print_more(left_out: int, hint: str) -> None:
    """The line under a list cut at its limit: how many rows were left out, and how to see them."""
    if left_out > 0:
        out.print(f"… {left_out:,} more ({hint})")


def minute(moment: datetime | None) -> str:
    """A moment to the minute ("2021-04-27T09:00"), or "-" when there is none."""
    return moment.isoformat()[:16] if moment else "-"


def main() -> None:
    """Entry point: one place turns errors into a message and a non-zero exit."""
    verbose = "--verbose" in sys.argv or "-v" in sys.argv
    try:
        code = app(standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        err.print("Aborted.")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except CampaignEngineError as exc:
        if verbose:
            err.print_exception()
        err.print(f"[red]error:[/red] {escape(str(exc))}", markup=True)
        cause = exc.__cause__
        while cause is not None:
            err.print(f"  caused by: {cause}")
            cause = cause.__cause__
        sys.exit(1)
    except sa_exc.SQLAlchemyError as exc:  # the database refused or is unreachable
        if verbose:
            err.print_exception()
        detail = getattr(exc, "orig", None) or exc
        err.print(f"error: database: {str(detail).splitlines()[0]}")
        err.print("  (run with --verbose for the full traceback)")
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors carry their own message and exit code
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        sys.exit(getattr(exc, "exit_code", 2))
    if isinstance(code, int) and code:  # typer.Exit(n) comes back as a return value here
        sys.exit(code)
