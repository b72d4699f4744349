"""The `campaign` command: parses, calls the services, prints with rich."""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated

import typer
from rich import progress as rich_progress
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlmodel import col, select

from . import campaigns, exclusions, imports, reports
from .config import Settings, load_settings
from .csvfile import Progress, RowError, write_errors
from .db import Database
from .dispatcher import Dispatcher, TickReport
from .errors import CampaignEngineError, ImportRejected
from .models import Account, Campaign, Contact, Message, utc
from .transport import make_transport

__all__ = ["app", "main"]

app = typer.Typer(
    help="Run B2B email campaigns: import contacts, launch sequences, send on schedule.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
import_app = typer.Typer(help="Import contacts or reps from CSV.", no_args_is_help=True)
app.add_typer(import_app, name="import")

# markup off: CSV cells, names and reasons are printed as they are ("[/b]" must not crash),
# soft wrap: one message per line, whatever the width, so scripts can grep file:line;
# the few styled lines pass markup=True and escape() what they interpolate.
out = Console(highlight=False, markup=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)


_ENCODING_OPTION = typer.Option("--encoding", help="Override the detected encoding.")
_STRICT_OPTION = typer.Option("--strict", help="Apply nothing when any row is rejected.")
_ERRORS_OPTION = typer.Option("--errors", help="Also write rejected rows to this CSV.")


class Format(StrEnum):
    table = "table"
    json = "json"


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


def _ctx(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Config file (default: ./config.toml or $CAMPAIGN_CONFIG)."
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log details and tracebacks.")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = Context(config, verbose)


@import_app.command("contacts")
def import_contacts_command(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV with a header row.")
    ],
    encoding: Annotated[str | None, _ENCODING_OPTION] = None,
    strict: Annotated[bool, _STRICT_OPTION] = False,
    errors: Annotated[Path | None, _ERRORS_OPTION] = None,
) -> None:
    """Upsert contacts by email; rejected rows are listed with file:line and reason (exit 1)."""
    c = _ctx(ctx)
    with _progress_bar(f"importing {file.name}") as progress:
        result = imports.import_contacts(c.db, file, _now(None), encoding, strict, progress)
    _print_import(result, "contacts", errors)


@import_app.command("reps")
def import_reps_command(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV: email,name,title,timezone.")
    ],
) -> None:
    """Upsert sales reps (name, title, time zone) by email."""
    c = _ctx(ctx)
    _print_import(imports.import_reps(c.db, file), "reps")


@app.command()
def launch(
    ctx: typer.Context,
    sequence: Annotated[str, typer.Argument(help="Name of sequences/SEQUENCE.toml.")],
    start: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="First send day, YYYY-MM-DD.")
    ],
    name: Annotated[
        str | None, typer.Option(help="Campaign name (default: SEQUENCE START).")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone (default: config timezone).")
    ] = None,
) -> None:
    """Create a campaign from a sequence and enrol every eligible contact."""
    c = _ctx(ctx)
    result = campaigns.launch(c.db, c.settings, sequence, start.date(), _now(None), name, timezone)
    table = Table(title=f"Launched {result.name!r}")
    for column in ("segment", "channel", "contacts"):
        table.add_column(column)
    for (segment, channel), count in sorted(result.enrolled.items()):
        table.add_row(segment, channel, str(count))
    table.add_row("any", "none (mode A)", str(result.not_enrolled))
    out.print(table)


@app.command()
def tick(
    ctx: typer.Context,
    now: Annotated[
        str | None, typer.Option(help="Pretend it is this ISO-8601 moment (default: now).")
    ] = None,
) -> None:
    """Do all work due at this moment once, then exit (cron-friendly)."""
    c = _ctx(ctx)
    moment = _now(now)

    async def run() -> TickReport:
        async with make_transport(c.settings) as transport:
            return await Dispatcher(c.db, c.settings, transport).tick(moment)

    report = asyncio.run(run())
    out.print(f"tick {moment.isoformat()}: {report}")


@app.command()
def status(
    ctx: typer.Context,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    format: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.table,
) -> None:
    """Per campaign and step: queued, sent, failed, skipped (and why)."""
    c = _ctx(ctx)
    with c.db.session() as session:
        if campaign:
            campaigns.campaign_by_name(session, campaign)
        statuses = reports.campaign_statuses(session, campaign)
    if format is Format.json:
        out.print_json(json.dumps(reports.to_jsonable(statuses)))
        return
    if not statuses:
        out.print("No campaigns yet: run `campaign launch SEQUENCE --start YYYY-MM-DD`.")
    for item in statuses:
        enrolled = ", ".join(f"{k} {v}" for k, v in sorted(item.enrolled.items()))
        table = Table(
            title=f"{item.name}  ({item.sequence}, from {item.start_date}, {item.window} {item.timezone})",
            caption=f"enrolled: {enrolled or 'none'}; next due: {item.next_due_at or '-'}",
        )
        columns = (
            "step",
            "day",
            "subject",
            "queued",
            "sent",
            "retry",
            "failed",
            "bounced",
            "skipped",
            "uncertain",
        )
        for column in columns:
            table.add_column(column, justify="right" if column not in ("subject",) else "left")
        for step in item.steps:
            s = step.states
            reasons = "; ".join(f"{n} {r}" for r, n in sorted(step.skipped_reasons.items()))
            skipped = f"{s['skipped']}" + (f" ({reasons})" if reasons else "")
            table.add_row(
                str(step.step),
                str(step.day),
                step.subject,
                str(s["queued"] + s["sending"]),
                str(s["sent"]),
                str(s["retry"]),
                str(s["failed"]),
                str(s["bounced"]),
                skipped,
                str(s["uncertain"]),
            )
        out.print(table)


app.command("report", help="Same numbers as status; --format json for scripts.")(status)


@app.command()
def messages(
    ctx: typer.Context,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    state: Annotated[
        str | None, typer.Option(help="Only messages in this state (sent, skipped...).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows (0 = all).")] = 50,
    format: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.table,
) -> None:
    """What went (or will go) to whom, and when."""
    c = _ctx(ctx)
    with c.db.session() as session:
        query = (
            select(Message, Contact, Account, Campaign)
            .join(Contact, col(Contact.id) == Message.contact_id)
            .join(Account, col(Account.id) == Contact.account_id)
            .join(Campaign, col(Campaign.id) == Message.campaign_id)
            .order_by(col(Message.sent_at), col(Message.id))
        )
        if campaign:
            query = query.where(Campaign.id == campaigns.campaign_by_name(session, campaign).id)
        if state:
            query = query.where(Message.state == state)
        if limit:
            query = query.limit(limit)
        rows = session.exec(query).all()
    records = [
        {
            "campaign": camp.name,
            "step": message.step,
            "to": contact.email,
            "account": account.name,
            "segment": account.segment,
            "subject": message.subject,
            "state": message.state,
            "sent_at": message.sent_at.isoformat() if message.sent_at else None,
            "note": message.skip_reason or message.error or "",
        }
        for message, contact, account, camp in rows
    ]
    if format is Format.json:
        out.print_json(json.dumps(records))
        return
    table = Table(title=f"Messages ({len(records)} shown)")
    for column in ("sent_at", "step", "to", "account", "segment", "subject", "state", "note"):
        table.add_column(column)
    for r in records:
        table.add_row(
            (r["sent_at"] or "-")[:16],
            str(r["step"]),
            r["to"],
            r["account"],
            r["segment"],
            r["subject"],
            r["state"],
            r["note"],
        )
    out.print(table)


@app.command()
def run(ctx: typer.Context) -> None:
    """Long-running: tick every tick_seconds until Ctrl-C (the batch in flight finishes)."""
    from .scheduler import run_forever

    c = _ctx(ctx)
    out.print(
        f"Ticking every {c.settings.tick_seconds:g}s; Ctrl-C stops after the batch in flight."
    )
    asyncio.run(run_forever(c.settings, c.db))
    out.print("Stopped.")


# -- exclusions ----------------------------------------------------------------------------

exclusions_app = typer.Typer(
    help="List, remove and set deadlines for ops exclusions.", no_args_is_help=True
)
app.add_typer(exclusions_app, name="exclusions")
_NOW_OPTION = typer.Option(hidden=True, help="Pretend it is this ISO-8601 moment (tests).")
_BY_OPTION = typer.Option("--by", help="Who does this (default: the OS user).")


@app.command()
def exclude(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="Target list (exclude,reason,email...), an email or domain list, "
            "or one header-less column of addresses.",
        ),
    ],
    campaign: Annotated[
        str | None, typer.Option(help="Only this campaign (default: every campaign).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would happen; store nothing.")
    ] = False,
    strict: Annotated[bool, _STRICT_OPTION] = False,
    errors: Annotated[Path | None, _ERRORS_OPTION] = None,
    encoding: Annotated[str | None, _ENCODING_OPTION] = None,
    by: Annotated[str | None, _BY_OPTION] = None,
    now: Annotated[str | None, _NOW_OPTION] = None,
) -> None:
    """Exclude contacts or whole domains; checked at send time, so late uploads still stop mail."""
    c = _ctx(ctx)
    with _progress_bar(f"excluding from {file.name}") as progress:
        result = exclusions.exclude_file(
            c.db, file, _now(now), campaign, by or _user(), dry_run, strict, encoding, progress
        )
    _print_exclusions(result)
    outcome = "dry run: nothing was stored" if dry_run else _outcome(result.applied)
    _report_rejected(result.file, result.rejected, outcome, errors)


@exclusions_app.command("list")
def exclusions_list(
    ctx: typer.Context,
    campaign: Annotated[
        str | None, typer.Option(help="This campaign's exclusions and the global ones.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include removed exclusions.")] = False,
    format: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.table,
    now: Annotated[str | None, _NOW_OPTION] = None,
) -> None:
    """Who excluded whom, when, why, from which file:line (and who removed it)."""
    c = _ctx(ctx)
    views = exclusions.list_exclusions(c.db, campaign, all_)
    with c.db.session() as session:
        cid = campaigns.campaign_by_name(session, campaign).id if campaign else None
        deadlines = exclusions.deadline_statuses(session, _now(now), cid)
    if format is Format.json:
        records = [
            {
                **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in vars(x).items()},
                "active": x.removed_at is None,
            }
            for x in views
        ]
        dl = [
            {"campaign": d.campaign, "deadline": d.deadline.isoformat(), "passed": d.passed}
            for d in deadlines
        ]
        out.print_json(json.dumps({"exclusions": records, "deadlines": dl}))
        return
    for d in deadlines:
        out.print(f"exclusion deadline of {d.campaign!r}: {d.deadline.isoformat()}")
    table = Table(title=f"Exclusions ({len(views)}{', removed included' if all_ else ''})")
    columns = ("target", "scope", "reason", "source", "by", "at", "removed")
    for column in columns:
        table.add_column(column)
    for x in views:
        removed = ""
        if x.removed_at:
            removed = f"{_minute(x.removed_at)} by {x.removed_by}"
            removed += f": {x.removal_reason}" if x.removal_reason else ""
        table.add_row(
            x.target, x.scope, x.reason, x.source, x.created_by, _minute(x.created_at), removed
        )
    out.print(table)


@exclusions_app.command("remove")
def exclusions_remove(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="EMAIL, or DOMAIN (acme.example or @acme.example).")
    ],
    campaign: Annotated[
        str | None, typer.Option(help="The campaign the exclusion was for (default: global).")
    ] = None,
    by: Annotated[str | None, _BY_OPTION] = None,
    reason: Annotated[str, typer.Option(help="Why it is lifted (kept in the audit log).")] = "",
    now: Annotated[str | None, _NOW_OPTION] = None,
) -> None:
    """Lift an exclusion; it stays listed (with --all) as removed, by whom and why."""
    c = _ctx(ctx)
    count = exclusions.remove_exclusion(c.db, target, _now(now), campaign, by or _user(), reason)
    out.print(
        f"removed {count} exclusion(s) of {target}; `campaign exclusions list --all` shows it"
    )


@exclusions_app.command("deadline")
def exclusions_deadline(
    ctx: typer.Context,
    campaign: Annotated[str, typer.Argument(help="Campaign name.")],
    day: Annotated[
        datetime, typer.Argument(formats=["%Y-%m-%d"], help="Last day for exclusions, YYYY-MM-DD.")
    ],
    by: Annotated[str | None, _BY_OPTION] = None,
    now: Annotated[str | None, _NOW_OPTION] = None,
) -> None:
    """Set the campaign's exclusion deadline; later uploads still apply but warn."""
    c = _ctx(ctx)
    exclusions.set_deadline(c.db, campaign, day.date(), by or _user(), _now(now))
    out.print(f"exclusion deadline of {campaign!r}: {day.date().isoformat()}")


def _print_exclusions(result: exclusions.ExclusionResult) -> None:
    scope = f"campaign {result.campaign!r}" if result.campaign else "all campaigns"
    verb = "would be excluded" if result.dry_run else "excluded"
    out.print(
        f"{result.file}: {result.contacts_excluded} contact(s) {verb} ({scope}); "
        f"{result.added} new exclusion(s), {result.already_active} already active, "
        f"{result.kept_rows} row(s) marked keep, {len(result.unmatched)} matched no contact "
        f"(kept: they apply if the contact is imported later), {len(result.rejected)} rejected"
    )
    if result.dry_run:
        out.print("dry run: nothing was stored")
    elif not result.applied:
        out.print("nothing was stored (--strict)")
    for d in result.deadlines:
        out.print(f"exclusion deadline of {d.campaign!r}: {d.deadline.isoformat()}")
    for d in result.late:
        err.print(
            f"[yellow]warning:[/yellow] the exclusion deadline of {escape(repr(d.campaign))} "
            f"({d.deadline.isoformat()}) has passed; the exclusions still apply to every email "
            "not yet sent",
            markup=True,
        )
    for entry in result.unmatched:
        out.print(f"  no contact (yet): {result.file}:{entry.line}: {entry.target}")
    if result.already_sent:
        table = Table(title="Already sent before this exclusion")
        for column in ("to", "campaign", "step", "subject", "sent_at"):
            table.add_column(column)
        for s in result.already_sent:
            table.add_row(s.email, s.campaign, str(s.step), s.subject, _minute(s.sent_at))
        out.print(table)


def _minute(moment: datetime | None) -> str:
    return moment.isoformat()[:16] if moment else "-"


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO-8601 date-time", param_hint="--now"
        ) from None
    return utc(moment)


def _print_import(result: imports.ImportResult, what: str, errors: Path | None = None) -> None:
    out.print(
        f"{result.file}: {result.created} {what} created, {result.updated} updated, "
        f"{result.unchanged} unchanged, {len(result.rejected)} rejected"
    )
    _report_rejected(result.file, result.rejected, _outcome(result.applied), errors)


def _outcome(applied: bool) -> str:
    return "valid rows were applied" if applied else "nothing was applied (--strict)"


def _report_rejected(
    file: str, rejected: list[RowError], outcome: str, errors: Path | None
) -> None:
    """Every rejected row on stderr (and in --errors FILE); exit 1 when there is any."""
    for problem in rejected:
        err.print(f"[red]rejected[/red] {escape(str(problem))}", markup=True)
    if errors is not None:
        write_errors(errors, rejected)
        err.print(f"rejected rows written to {errors}")
    if rejected:
        raise ImportRejected(f"{len(rejected)} row(s) of {file} rejected ({outcome})")


@contextmanager
def _progress_bar(label: str) -> Iterator[Progress]:
    """A byte-based progress bar on stderr (shown only on a terminal) fed by read_rows."""
    columns = (
        rich_progress.TextColumn("{task.description}"),
        rich_progress.BarColumn(),
        rich_progress.DownloadColumn(),
        rich_progress.TransferSpeedColumn(),
        rich_progress.TimeRemainingColumn(),
    )
    with rich_progress.Progress(
        *columns, console=err, transient=True, disable=not err.is_terminal
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def main() -> None:
    """Entry point: one place turns errors into a message and a non-zero exit."""
    verbose = "--verbose" in sys.argv or "-v" in sys.argv
    try:
        app(standalone_mode=False)
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
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
