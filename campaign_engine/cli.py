"""The `campaign` command: parses, calls the services, prints with rich."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import col, select

from . import campaigns, digests, funnel, imports, recovery, report_export, reports, schema, stages
from .config import Settings, load_settings
from .dashboard import FIGURE_COLUMNS, render_dashboard, show
from .db import Database
from .dispatcher import Dispatcher, TickReport
from .errors import CampaignEngineError, ImportRejected
from .models import Account, Campaign, Contact, Message, utc
from .throttle import limiter_for
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

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


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
    encoding: Annotated[str | None, typer.Option(help="Override the detected encoding.")] = None,
) -> None:
    """Upsert contacts by email; rejected rows are listed with file:line and reason (exit 1)."""
    c = _ctx(ctx)
    result = imports.import_contacts(c.db, file, _now(None), encoding)
    _print_import(result, "contacts")


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
        async with make_transport(
            c.settings, limiter_for(c.db, c.settings.smtp.rate_limit)
        ) as transport:
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


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    html = "html"


@app.command()
def report(
    ctx: typer.Context,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    format: Annotated[
        ReportFormat, typer.Option("--format", help="table, json, csv or html (the dashboard).")
    ] = ReportFormat.table,
    out_file: Annotated[
        Path | None, typer.Option("--out", dir_okay=False, help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """Funnel per campaign, email, segment, offer and rep; human engagement only; SAO and stages."""
    c = _ctx(ctx)
    with c.db.session() as session:
        if campaign:
            campaigns.campaign_by_name(session, campaign)
        result = reports.load_report(session, _now(None), campaign)
    if format is ReportFormat.table:
        _print_report(result)
        return
    text = {
        ReportFormat.json: report_export.to_json,
        ReportFormat.csv: report_export.to_csv,
        ReportFormat.html: lambda r: render_dashboard(r, c.settings.templates_dir),
    }[format](result)
    if out_file is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    out_file.write_text(text, encoding="utf-8", newline="")
    out.print(f"{format.value} report written to {out_file}")


messages_app = typer.Typer(
    help="What went (or will go) to whom, and when; decide about uncertain sends.",
    invoke_without_command=True,
)
app.add_typer(messages_app, name="messages")


@messages_app.callback()
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
    if ctx.invoked_subcommand is not None:
        return
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


UncertainOption = Annotated[
    bool, typer.Option("--uncertain", help="Act on messages whose send outcome is unknown.")
]


@messages_app.command("retry")
def messages_retry(
    ctx: typer.Context,
    uncertain: UncertainOption = False,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
) -> None:
    """Queue uncertain messages again (some recipients may then get them twice)."""
    _require_uncertain(uncertain)
    c = _ctx(ctx)
    count = recovery.retry_uncertain(c.db, _now(None), _campaign_id(c, campaign))
    out.print(f"{count} uncertain message(s) queued again; the next tick sends them.")


@messages_app.command("mark-sent")
def messages_mark_sent(
    ctx: typer.Context,
    uncertain: UncertainOption = False,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
) -> None:
    """Count uncertain messages as delivered and move their contacts on to the next step."""
    _require_uncertain(uncertain)
    c = _ctx(ctx)
    count = recovery.accept_uncertain(c.db, _now(None), _campaign_id(c, campaign))
    out.print(f"{count} uncertain message(s) counted as sent.")


def _require_uncertain(uncertain: bool) -> None:
    if not uncertain:
        raise typer.BadParameter("say --uncertain: only uncertain messages can be acted on here")


def _campaign_id(c: Context, name: str | None) -> int | None:
    if name is None:
        return None
    with c.db.session() as session:
        return campaigns.campaign_by_name(session, name).id


db_app = typer.Typer(help="The database schema (alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Migrate the schema to the newest revision (also done automatically on first use)."""
    c = _ctx(ctx)
    database = Database(c.settings.database_url, migrate=False)
    changed = schema.upgrade(database.engine)
    state = "upgraded to" if changed else "already at"
    out.print(f"{database!r}: {state} revision {schema.current_revision(database.engine)}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the schema revision of the database and the newest one this version knows."""
    c = _ctx(ctx)
    database = Database(c.settings.database_url, migrate=False)
    current, head = schema.current_revision(database.engine), schema.head_revision()
    out.print(f"database: {current or 'empty'}; newest: {head}")


@db_app.command("revision", hidden=True)
def db_revision(
    ctx: typer.Context, message: Annotated[str, typer.Option("--message", "-m")]
) -> None:
    """For contributors: write a migration for what the models add."""
    c = _ctx(ctx)
    schema.new_revision(Database(c.settings.database_url, migrate=False).engine, message)


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


digests_app = typer.Typer(
    help="Engagement digests to reps: schedule, preview, send.", no_args_is_help=True
)
app.add_typer(digests_app, name="digests")


class DigestModeOption(StrEnum):
    scheduled = "scheduled"
    immediate = "immediate"
    off = "off"


@digests_app.command("set")
def digests_set_command(
    ctx: typer.Context,
    rep: Annotated[str, typer.Option("--rep", help="The rep's email.")],
    mode: Annotated[
        DigestModeOption | None, typer.Option(help="scheduled, immediate or off.")
    ] = None,
    hour: Annotated[
        int | None, typer.Option(min=0, max=23, help="Hour of the rep's day (0-23).")
    ] = None,
    weekdays: Annotated[
        str | None, typer.Option(help="Days: mon-fri, mon,wed,fri, daily...")
    ] = None,
) -> None:
    """Change a rep's digest schedule (what is not given stays as it was)."""
    c = _ctx(ctx)
    found, pref = digests.set_preference(c.db, rep, mode.value if mode else None, hour, weekdays)
    out.print(f"{found.email}: digests {digests.describe(pref, found.timezone)}")


@digests_app.command("preview")
def digests_preview_command(
    ctx: typer.Context,
    rep: Annotated[str, typer.Option("--rep", help="The rep's email.")],
    now: Annotated[
        str | None, typer.Option(help="Pretend it is this ISO-8601 moment (default: now).")
    ] = None,
) -> None:
    """Print what the rep's next digest would contain; nothing is claimed or sent."""
    c = _ctx(ctx)
    preview = digests.preview_digest(c.db, rep, _now(now))
    schedule = digests.describe(preview.preference, preview.rep.timezone)
    due = "due now" if preview.due else "not due yet"
    out.print(f"{preview.rep.email}: digests {schedule}; {due}")
    if not preview.entries:
        out.print("Nothing new: no digest would be sent.")
        return
    count = digests.contacts(len(preview.entries))
    table = Table(title=f"Next digest for {preview.rep.email} ({count})")
    for column in ("contact", "account", "activity", "email", "when", "next step"):
        table.add_column(column)
    for entry in preview.entries:
        for index, a in enumerate(entry.activities):
            what = a.label + (f": {a.offer_name}" if a.offer_name else "")
            what += f" ({a.count}x)" if a.count > 1 else ""
            table.add_row(
                f"{entry.name}\n{entry.title} ({entry.persona})" if index == 0 else "",
                f"{entry.account} ({entry.segment})" if index == 0 else "",
                what,
                a.email,
                digests.local_time(a.last_at, preview.rep.timezone),
                entry.next_step if index == 0 else "",
            )
    out.print(table)


@digests_app.command("send")
def digests_send_command(
    ctx: typer.Context,
    rep: Annotated[
        str | None, typer.Option("--rep", help="Only this rep, whatever the schedule.")
    ] = None,
    now: Annotated[
        str | None, typer.Option(help="Pretend it is this ISO-8601 moment (default: now).")
    ] = None,
) -> None:
    """Send the digests due now (with --rep: that rep's, regardless of schedule)."""
    c = _ctx(ctx)
    moment = _now(now)

    async def run() -> digests.DigestReport:
        async with make_transport(
            c.settings, limiter_for(c.db, c.settings.smtp.rate_limit)
        ) as transport:
            return await digests.send_due_digests(c.db, c.settings, transport, moment, rep)

    report = asyncio.run(run())
    for label, reps in (
        ("sent", report.sent),
        ("retry later", report.retry),
        ("failed", report.failed),
        ("nothing new", report.nothing_new),
    ):
        if reps:
            out.print(f"{label}: {', '.join(reps)}")
    if not (report.sent or report.retry or report.failed or report.nothing_new):
        out.print("No digest due.")
    if report.failed:
        raise typer.Exit(1)


def _print_report(result: funnel.Report) -> None:
    if not result.campaigns:
        out.print("No campaigns yet: run `campaign launch SEQUENCE --start YYYY-MM-DD`.")
    for item in result.campaigns:
        t = item.totals
        out.print(
            f"[bold]{item.name}[/bold] ({item.sequence}, from {item.start_date}): "
            f"{t.enrolled} enrolled, {item.touched} emailed, SAO {item.sao}; not counted: "
            f"{t.apple_opens} Apple privacy opens, {t.scanner_opens} scanner opens, "
            f"{t.scanner_clicks} scanner clicks"
        )
        rows = [("all", t)] + [(f"email {s.step}", s.figures) for s in item.steps]
        rows += [(f"segment {g.segment}", g.figures) for g in item.segments]
        table = Table(title="Funnel (human engagement)")
        table.add_column("")
        for _, label in FIGURE_COLUMNS:
            table.add_column(label, justify="right")
        for label, figures in rows:
            values = asdict(figures)
            table.add_row(label, *(show(values[key], key == "ctor") for key, _ in FIGURE_COLUMNS))
        out.print(table)
        offers = Table(title="Offers")
        for column in ("email", "offer", "delivered with it", "clicked", "clicks", "click rate"):
            offers.add_column(column, justify="left" if column == "offer" else "right")
        for o in item.offers:
            offers.add_row(
                str(o.step),
                o.name,
                str(o.offered),
                str(o.clicks_unique),
                str(o.clicks_total),
                show(o.click_rate, True),
            )
        out.print(offers)
        reps = Table(title="Reps")
        for column in ("rep", "contacts", "drafts sent", "reminders pending", "requests", "SAO"):
            reps.add_column(column, justify="left" if column == "rep" else "right")
        for r in item.reps:
            reps.add_row(
                r.rep or r.name,
                str(r.contacts),
                str(r.drafts_sent),
                str(r.reminders_pending),
                str(r.requests_received),
                str(r.sao),
            )
        out.print(reps)
        stage_table = Table(title="Sales stages of the contacts emailed")
        for column in ("stage", "reached", "now in it", "average days"):
            stage_table.add_column(column, justify="left" if column == "stage" else "right")
        for st in item.stages:
            stage_table.add_row(
                f"{st.stage} - {st.name}", str(st.reached), str(st.current), show(st.average_days)
            )
        out.print(stage_table)


stages_app = typer.Typer(
    help="Opportunity sales stages of contacts (0 Pending Acceptance ... 7 Closed Won, 8 Lost).",
    no_args_is_help=True,
)
app.add_typer(stages_app, name="stages")


@stages_app.command("set")
def stages_set_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The contact's email.")],
    stage: Annotated[str, typer.Argument(help="Number or name: 1, '1 - Discovery', discovery...")],
    at: Annotated[
        datetime | None,
        typer.Option("--at", formats=["%Y-%m-%d"], help="Day it happened (default: today, UTC)."),
    ] = None,
) -> None:
    """Record that a contact's opportunity reached a sales stage (kept as history)."""
    c = _ctx(ctx)
    try:
        number = stages.parse_stage(stage)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="STAGE") from None
    now = _now(None)
    out.print(str(stages.record_stage(c.db, email, number, at.date() if at else now.date(), now)))


@stages_app.command("import")
def stages_import_command(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV: email,stage,date.")
    ],
    encoding: Annotated[str | None, typer.Option(help="Override the detected encoding.")] = None,
) -> None:
    """Record stages from CSV; rejected rows are listed with file:line and reason (exit 1)."""
    c = _ctx(ctx)
    _print_import(stages.import_stages(c.db, file, _now(None), encoding), "stage changes")


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


def _print_import(result: imports.ImportResult, what: str) -> None:
    out.print(
        f"{result.file}: {result.created} {what} created, {result.updated} updated, "
        f"{result.unchanged} unchanged, {len(result.rejected)} rejected"
    )
    for problem in result.rejected:
        err.print(f"[red]rejected[/red] {problem}", markup=True)
    if result.rejected:
        raise ImportRejected(
            f"{len(result.rejected)} row(s) of {result.file} rejected (valid rows were applied)"
        )


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
        err.print(f"[red]error:[/red] {exc}", markup=True)
        cause = exc.__cause__
        while cause is not None:
            err.print(f"  caused by: {cause}")
            cause = cause.__cause__
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors carry their own message and exit code
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        sys.exit(getattr(exc, "exit_code", 2))
