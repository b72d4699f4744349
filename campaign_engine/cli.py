"""The `campaign` command: parses, calls the services, prints with rich."""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import progress as rich_progress
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import exc as sa_exc
from sqlmodel import col, select

from campaign_engine.audience import exclusions, imports, privacy, suppression
from campaign_engine.audience.csvfile import Progress, RowError, write_errors
from campaign_engine.core.config import DkimSettings, Settings, load_settings
from campaign_engine.core.errors import CampaignEngineError, ConfigError, ImportRejected, NotFound
from campaign_engine.core.kinds import SuppressReason
from campaign_engine.engine import launch as launching
from campaign_engine.engine.doctor import diagnose
from campaign_engine.engine.tick import Ticker, TickReport
from campaign_engine.reporting import report_export, reports, stages
from campaign_engine.reporting.dashboard import FIGURE_COLUMNS, render_dashboard, show
from campaign_engine.reporting.report_model import Report
from campaign_engine.reps import digests, drafts, outreach, reminder_mail, repsend
from campaign_engine.sending import recovery
from campaign_engine.sending.dkim import dns_record, generate_key, valid_domain, valid_selector
from campaign_engine.sending.lint import lint_sequence
from campaign_engine.sending.throttle import limiter_for
from campaign_engine.sending.transport import make_transport
from campaign_engine.store import queries, schema
from campaign_engine.store.db import Database
from campaign_engine.store.models import Account, Campaign, Contact, Message, utc

__all__ = ["app", "main"]

# Command groups already living in campaign_engine/cli/ (where this module is moving): let
# `campaign_engine.cli.tokens` resolve until cli.py becomes that package.
__path__ = [str(Path(__file__).with_name("cli"))]

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


CampaignOption = Annotated[str | None, typer.Option(help="Only this campaign.")]


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

    def close(self) -> None:
        if "db" in self.__dict__:  # only if a command opened it
            self.db.dispose()


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
    ctx.call_on_close(ctx.obj.close)


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
    result = launching.launch(c.db, c.settings, sequence, start.date(), _now(None), name, timezone)
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
            ticker = Ticker(c.db, c.settings, transport)
            report = await ticker.tick(moment)
            await ticker.webhooks.drain()  # one-shot: deliver the webhooks due before exiting
            return report

    report = asyncio.run(run())
    out.print(f"tick {moment.isoformat()}: {report}")


@app.command()
def status(
    ctx: typer.Context,
    campaign: CampaignOption = None,
    format: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.table,
) -> None:
    """Per campaign and step: queued, sent, failed, skipped (and why)."""
    c = _ctx(ctx)
    with c.db.session() as session:
        if campaign:
            queries.campaign_by_name(session, campaign)
        statuses = reports.campaign_statuses(session, campaign)
    if format is Format.json:
        out.print_json(json.dumps(reports.to_jsonable(statuses)))
        return
    _print_statuses(statuses)


def _print_statuses(statuses: list[reports.CampaignStatus]) -> None:
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
    campaign: CampaignOption = None,
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
            queries.campaign_by_name(session, campaign)
        now = _now(None)
        pending = reports.due_reminder_counts(now, c.settings.reminder_days)
        result = reports.load_report(session, now, campaign, reminders=pending)
        statuses = reports.campaign_statuses(session, campaign)
    if format is ReportFormat.table:
        _print_statuses(statuses)
        _print_report(result)
        return
    text = {
        ReportFormat.json: lambda r: report_export.to_json(r, reports.to_jsonable(statuses)),
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
    campaign: CampaignOption = None,
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
            query = query.where(Campaign.id == queries.campaign_by_name(session, campaign).id)
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
    campaign: CampaignOption = None,
) -> None:
    """Queue uncertain messages again (some recipients may then get them twice)."""
    count = _on_uncertain(ctx, uncertain, campaign, recovery.retry_uncertain)
    out.print(f"{count} uncertain message(s) queued again; the next tick sends them.")


@messages_app.command("mark-sent")
def messages_mark_sent(
    ctx: typer.Context,
    uncertain: UncertainOption = False,
    campaign: CampaignOption = None,
) -> None:
    """Count uncertain messages as delivered and move their contacts on to the next step."""
    count = _on_uncertain(ctx, uncertain, campaign, recovery.accept_uncertain)
    out.print(f"{count} uncertain message(s) counted as sent.")


def _on_uncertain(
    ctx: typer.Context,
    uncertain: bool,
    campaign: str | None,
    action: Callable[[Database, datetime, int | None], int],
) -> int:
    if not uncertain:
        raise typer.BadParameter("say --uncertain: only uncertain messages can be acted on here")
    c = _ctx(ctx)
    return action(c.db, _now(None), _campaign_id(c, campaign))


def _campaign_id(c: Context, name: str | None) -> int | None:
    if name is None:
        return None
    with c.db.session() as session:
        return queries.campaign_by_name(session, name).id


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
def run(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Tracking endpoints: address to listen on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Tracking endpoints: port.")] = 8080,
    web: Annotated[
        bool, typer.Option("--web/--no-web", help="Serve the tracking endpoints too.")
    ] = True,
) -> None:
    """Long-running: tick every tick_seconds and serve the tracking endpoints until Ctrl-C."""
    from campaign_engine.engine.scheduler import run_forever

    c = _ctx(ctx)
    config = _web_config(c, host, port) if web else None
    serving = f" and serving tracking on http://{host}:{port}" if web else ""
    out.print(
        f"Ticking every {c.settings.tick_seconds:g}s{serving}; Ctrl-C stops after the batch in"
        " flight."
    )
    asyncio.run(run_forever(c.settings, c.db, web=config))
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
    preview = digests.preview_digest(c.db, rep, _now(now), c.settings.reminder_days)
    schedule = digests.describe(preview.preference, preview.rep.timezone)
    due = "due now" if preview.due else "not due yet"
    out.print(f"{preview.rep.email}: digests {schedule}; {due}")
    if not preview.entries and not preview.reminders:
        out.print("Nothing new: no digest would be sent.")
        return
    if preview.entries:
        _print_preview_entries(preview)
    if preview.reminders:
        reminders = Table(title=f"Next emails due ({len(preview.reminders)})")
        for column in ("contact", "account", "campaign", "last sent", "next", "draft"):
            reminders.add_column(column)
        for line in preview.reminders:
            r = line.reminder
            draft = reminder_mail.draft_command(line.draft_id) if line.draft_id else "no open draft"
            reminders.add_row(
                r.contact_email,
                line.account,
                r.campaign,
                f"email {r.sent_step} on {r.sent_at:%Y-%m-%d}",
                f"email {r.next_step}",
                draft,
            )
        out.print(reminders)


def _print_preview_entries(preview: digests.DigestPreview) -> None:
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


def _print_report(result: Report) -> None:
    if not result.campaigns:
        out.print("No campaigns yet: run `campaign launch SEQUENCE --start YYYY-MM-DD`.")
    for item in result.campaigns:
        t = item.totals
        out.print(
            f"{item.name} ({item.sequence}, from {item.start_date}): "
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


# -- tracking endpoints and contact requests (issue 4) -------------------------------------


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
) -> None:
    """Serve the tracking endpoints (open pixel, clicks, contact page, unsubscribe) until Ctrl-C."""
    import uvicorn

    c = _ctx(ctx)
    out.print(f"Serving tracking endpoints on http://{host}:{port}; Ctrl-C stops.")
    uvicorn.Server(_web_config(c, host, port)).run()
    out.print("Stopped.")


@app.command("contact-request")
def contact_request(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The contact who asked (replied, called...).")],
    note: Annotated[str, typer.Option(help="What they said; goes into the rep's alert.")] = "",
    preferred_time: Annotated[str, typer.Option(help="When they would like to talk.")] = "",
) -> None:
    """Record a contact request by hand: out of automation, sales direct, the rep is alerted."""
    from campaign_engine.reps.alerts import send_pending_alerts
    from campaign_engine.reps.contact_requests import clean_form, record_contact_request

    c = _ctx(ctx)
    moment = _now(None)
    form = clean_form({"message": note, "preferred_time": preferred_time})
    result = record_contact_request(
        c.db, c.settings, moment, email=email, form=form, source="manual"
    )

    async def send() -> int:
        async with make_transport(c.settings) as transport:
            return await send_pending_alerts(c.db, c.settings, transport, moment)

    sent = asyncio.run(send())
    step = f"email {result.step}" if result.step else "no email sent yet"
    out.print(
        f"Contact request recorded for {result.contact_email} ({step}): "
        f"{result.stopped_enrollments} automated enrollment(s) stopped, "
        f"{result.skipped_messages} queued message(s) skipped, outreach mode now B."
    )
    if result.repeated:
        out.print("The same request was recorded moments ago: no second alert.")
    elif not result.rep_email:
        err.print(
            "[yellow]warning:[/yellow] the account has no rep: nobody was alerted", markup=True
        )
    elif sent:
        out.print(f"Alert sent to {result.rep_name or result.rep_email} <{result.rep_email}>.")
    else:
        out.print(f"Alert to {result.rep_email} queued: the next tick retries it.")


def _web_config(c: Context, host: str, port: int) -> Any:
    import uvicorn

    from campaign_engine.web.app import create_app

    return uvicorn.Config(
        create_app(c.settings, c.db),
        host=host,
        port=port,
        log_level="info" if c.verbose else "warning",
        proxy_headers=True,
        lifespan="on",
    )


# -- rep outreach: drafts, reminders, outreach mode -----------------------------------------

drafts_app = typer.Typer(
    help="Reps' drafts of the sequence: list, read, edit, send.", no_args_is_help=True
)
contacts_app = typer.Typer(
    help="Change contacts; export or erase what is held on one.", no_args_is_help=True
)
app.add_typer(drafts_app, name="drafts")
app.add_typer(contacts_app, name="contacts")

RepOption = Annotated[
    str | None,
    typer.Option("--rep", help="Act as this rep: only their contacts' drafts (default: all)."),
]
NowOption = Annotated[
    str | None, typer.Option(help="Pretend it is this ISO-8601 moment (default: now).")
]


def _emit_json(records: list[dict[str, object]]) -> None:
    """Plain JSON on stdout (rich's highlighter is slow on thousands of rows)."""
    sys.stdout.write(json.dumps(records, indent=2, ensure_ascii=False) + "\n")


class DraftStatusFilter(StrEnum):
    draft = "draft"
    sent = "sent"
    cancelled = "cancelled"
    all = "all"


class DoneReason(StrEnum):
    meeting = "meeting"
    opportunity = "opportunity"


class Mode(StrEnum):
    A = "A"
    B = "B"
    C = "C"


@drafts_app.command("list")
def drafts_list(
    ctx: typer.Context,
    rep: RepOption = None,
    campaign: CampaignOption = None,
    status: Annotated[
        DraftStatusFilter, typer.Option(help="draft (open), sent, cancelled or all.")
    ] = DraftStatusFilter.draft,
    format: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.table,
) -> None:
    """The drafts waiting for a rep (or sent), one row per contact and email."""
    c = _ctx(ctx)
    with c.db.session() as session:
        drafts.ensure_drafts(session, c.settings, _now(None))
        if campaign:
            queries.campaign_by_name(session, campaign)
        views = drafts.list_drafts(
            session, rep, campaign, None if status is DraftStatusFilter.all else status.value
        )
    if format is Format.json:
        _emit_json([v.to_json(body=False) for v in views])
        return
    table = Table(title=f"Drafts ({len(views)})")
    columns = ["id", "contact", "account", "segment", "step", "subject", "status"]
    if rep is None:
        columns.insert(4, "rep")
    for column in columns:
        table.add_column(column)
    for v in views:
        cells = {
            "id": str(v.id),
            "contact": v.contact_email,
            "account": v.account,
            "segment": v.segment,
            "rep": v.rep_email,
            "step": str(v.step),
            "subject": v.subject,
            "status": v.status + (f" ({v.status_note})" if v.status_note else ""),
        }
        table.add_row(*(cells[column] for column in columns))
    out.print(table)


@drafts_app.command("show")
def drafts_show(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    rep: RepOption = None,
) -> None:
    """One draft as it will go out (tracking and the footer are added when it is sent)."""
    c = _ctx(ctx)
    with c.db.session() as session:
        v = drafts.get_draft(session, draft_id, rep)
    out.print(
        f"Draft {v.id}: email {v.step} of {v.campaign!r}, {v.status}"
        + (f" ({v.status_note})" if v.status_note else "")
    )
    out.print(f"To: {v.contact_name} <{v.contact_email}> ({v.account}, {v.segment})")
    out.print(f"From: {v.rep_email or '(no rep)'}")
    out.print(f"Subject: {v.subject}\n")
    out.print(v.body_text, markup=False, soft_wrap=True)
    out.print("[dim]-- footer, added when sent; links are tracked when sent --[/dim]")
    out.print(v.footer_text, markup=False, style="dim", soft_wrap=True)


@drafts_app.command("edit")
def drafts_edit(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    subject: Annotated[str | None, typer.Option(help="New subject line.")] = None,
    body_file: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="New text body (UTF-8); keep the links as written."
        ),
    ] = None,
    rep: RepOption = None,
) -> None:
    """Change a draft's subject and/or text; campaign links stay tracked."""
    if subject is None and body_file is None:
        raise typer.BadParameter("give --subject and/or --body-file", param_hint="--subject")
    c = _ctx(ctx)
    try:
        body = body_file.read_text(encoding="utf-8") if body_file else None
    except UnicodeDecodeError:
        raise typer.BadParameter(
            f"{body_file} is not UTF-8 text", param_hint="--body-file"
        ) from None
    with c.db.session() as session:
        v = drafts.edit_draft(session, c.settings, draft_id, rep, _now(None), subject, body)
    out.print(f"Draft {v.id} saved: email {v.step} to {v.contact_email}, subject {v.subject!r}.")


@drafts_app.command("send")
def drafts_send(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    rep: RepOption = None,
    now: NowOption = None,
) -> None:
    """Send a draft now through the engine, from the rep, with tracked links."""
    c = _ctx(ctx)
    moment = _now(now)

    async def send() -> repsend.SentDraft:
        async with make_transport(c.settings) as transport:
            return await repsend.send_draft(c.db, c.settings, transport, draft_id, rep, moment)

    sent = asyncio.run(send())
    out.print(
        f"Sent email {sent.step} {sent.subject!r} to {sent.recipient} from {sent.sender}"
        f" (message {sent.message_id})."
    )


@drafts_app.command("done")
def drafts_done(
    ctx: typer.Context,
    contact_email: Annotated[str, typer.Argument(metavar="CONTACT_EMAIL")],
    reason: Annotated[DoneReason, typer.Option(help="Where the thread went.")],
    rep: RepOption = None,
    note: Annotated[str, typer.Option(help="Free text kept with the mark.")] = "",
) -> None:
    """Mark a thread as moved to a meeting or an opportunity: no more next-step reminders."""
    c = _ctx(ctx)
    with c.db.session() as session:
        drafts.mark_done(session, contact_email, rep, reason.value, _now(None), note)
    out.print(f"{contact_email}: moved to {reason.value}; no more reminders for this contact.")


@app.command("reminders")
def reminders_command(
    ctx: typer.Context,
    rep: RepOption = None,
    now: NowOption = None,
    format: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.table,
) -> None:
    """Next emails due: sent email N at least reminder_days ago, email N+1 not yet."""
    c = _ctx(ctx)
    with c.db.session() as session:
        lines = reminder_mail.reminder_lines(session, _now(now), c.settings.reminder_days, rep)
    if format is Format.json:
        _emit_json([line.to_json() for line in lines])
        return
    if not lines:
        out.print("No reminders due.")
        return
    table = Table(title=f"Reminders due ({len(lines)})")
    for column in ("due since", "rep", "contact", "account", "campaign", "sent", "next", "draft"):
        table.add_column(column)
    for line in lines:
        r = line.reminder
        table.add_row(
            f"{r.due_at:%Y-%m-%d %H:%M}",
            r.rep_email,
            r.contact_email,
            line.account,
            r.campaign,
            f"email {r.sent_step} on {r.sent_at:%Y-%m-%d}",
            f"email {r.next_step}",
            str(line.draft_id or "-"),
        )
    out.print(table)


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
        cid = queries.campaign_by_name(session, campaign).id if campaign else None
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


@contacts_app.command("set-mode")
def contacts_set_mode(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL")],
    mode: Annotated[
        Mode, typer.Argument(help="A do nothing, B sales direct only, C marketing email.")
    ],
    rep: RepOption = None,
) -> None:
    """Change a contact's outreach mode; automated sends follow it from the next tick."""
    c = _ctx(ctx)
    with c.db.session() as session:
        change = outreach.set_outreach_mode(session, c.settings, email, mode.value, _now(None), rep)
    out.print(change.summary())


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


from campaign_engine.cli.tokens import tokens_app  # noqa: E402
from campaign_engine.cli.webhooks import webhooks_app  # noqa: E402

app.add_typer(tokens_app, name="tokens")
app.add_typer(webhooks_app, name="webhooks")


# -- web-app users -------------------------------------------------------------------------

users_app = typer.Typer(help="Who may log in to the web app (/app).", no_args_is_help=True)
app.add_typer(users_app, name="users")


class Role(StrEnum):
    ops = "ops"
    rep = "rep"


@users_app.command("add")
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

    c = _ctx(ctx)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    view = users.add_user(c.db, email, role.value, password, _now(None), replace)
    out.print(f"user {view.email} ({view.role}) can log in at {c.settings.tracking_base_url}/app/")
    if view.role == Role.rep and not view.rep_known:
        err.print(
            f"warning: no rep with email {view.email} yet: they will see no contacts until"
            " accounts name them as owner (import contacts with owner_email)"
        )


@users_app.command("list")
def users_list(
    ctx: typer.Context,
    format: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.table,
) -> None:
    """Every web-app user, removed ones too."""
    from campaign_engine.web import users

    views = users.list_users(_ctx(ctx).db)
    if format is Format.json:
        _emit_json(
            [
                {
                    "email": v.email,
                    "role": v.role,
                    "created_at": v.created_at.isoformat() if v.created_at else None,
                    "active": not v.disabled,
                }
                for v in views
            ]
        )
        return
    table = Table(title=f"Web-app users ({len(views)})")
    for column in ("email", "role", "created", "status"):
        table.add_column(column)
    for v in views:
        status = "removed" if v.disabled else "active"
        if v.role == Role.rep and not v.rep_known:
            status += " (no such rep: sees no contacts)"
        table.add_row(v.email, v.role, _minute(v.created_at), status)
    out.print(table)


@users_app.command("remove")
def users_remove(
    ctx: typer.Context, email: Annotated[str, typer.Argument(metavar="EMAIL")]
) -> None:
    """Remove a user: they can't log in any more and their sessions end (the record stays)."""
    from campaign_engine.web import users

    users.remove_user(_ctx(ctx).db, email, _now(None))
    out.print(f"user {email} removed: they can no longer log in")


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


# -- deliverability and compliance: dkim, doctor, lint, suppress, contacts ---------------------

dkim_app = typer.Typer(help="DKIM keys for signing outgoing mail.", no_args_is_help=True)
app.add_typer(dkim_app, name="dkim")


@dkim_app.command("keygen")
def dkim_keygen_command(
    ctx: typer.Context,
    selector: Annotated[
        str | None, typer.Option(help="DKIM selector (default: [dkim] selector or 'mail').")
    ] = None,
    domain: Annotated[
        str | None, typer.Option(help="Signing domain (default: [dkim] domain or the From domain).")
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Private key file to write (default: [dkim] private_key_path)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing key file.")] = False,
) -> None:
    """Write a 2048-bit RSA key and print the DNS TXT record to publish."""
    try:
        dkim_settings, from_address = _ctx(ctx).settings.dkim, _ctx(ctx).settings.from_address
    except ConfigError:
        dkim_settings, from_address = DkimSettings(), ""
    selector = selector or dkim_settings.selector or "mail"
    domain = domain or dkim_settings.domain or from_address.rsplit("@", 1)[-1].strip("> ")
    if not valid_domain(domain) or not valid_selector(selector):
        raise ConfigError(
            f"selector {selector!r} / domain {domain!r}: give --selector and --domain"
        )
    path = out_file or dkim_settings.private_key_path
    if path is None:
        raise ConfigError("no key file: give --out FILE (or set [dkim] private_key_path)")
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; --force replaces it (and the published DNS key!)")
    pair = generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(pair.private_pem)
    out.print(f"wrote {path} (2048-bit RSA, keep it private)")
    out.print(
        "Publish this TXT record in DNS, then set [dkim] selector, domain, private_key_path:",
        markup=False,
    )
    out.print(dns_record(selector, domain, pair.public_b64), soft_wrap=True)


@app.command()
def doctor(
    ctx: typer.Context,
    smtp: Annotated[bool, typer.Option(help="Try a TCP connect to the SMTP relay.")] = True,
) -> None:
    """Check the config for deliverability and compliance; exit 1 when something must be fixed."""
    checks = diagnose(_ctx(ctx).settings, probe_smtp=smtp)
    colours = {"ok": "green", "warning": "yellow", "error": "red"}
    for check in checks:
        out.print(
            f"[{colours[check.level]}]{check.level:7}[/] {check.what}: {escape(check.detail)}",
            markup=True,
            soft_wrap=True,
        )
    errors = sum(1 for c in checks if c.level == "error")
    if errors:
        out.print(f"{errors} thing(s) to fix before sending for real.")
        raise typer.Exit(1)
    out.print("Ready to send.")


@app.command("lint")
def lint_command(
    ctx: typer.Context,
    sequence: Annotated[str, typer.Argument(help="Name of sequences/SEQUENCE.toml.")],
    spam: Annotated[bool, typer.Option(help="Score with SpamAssassin when installed.")] = True,
) -> None:
    """Render every step for each persona and check it; exit 1 on any error."""
    report = lint_sequence(_ctx(ctx).settings, sequence, spam=spam)
    table = Table(title=f"lint {sequence}")
    for column in ("step", "persona", "subject", "spam score", "errors", "warnings"):
        table.add_column(column)
    for step in report.steps:
        score = "-" if step.spam_score is None else f"{step.spam_score:.1f}".replace("-0.0", "0.0")
        if step.spam_tests:
            score += f" ({step.spam_tests})"
        levels = [f.level for f in step.findings]
        table.add_row(
            str(step.step),
            step.persona,
            step.subject,
            score,
            str(levels.count("error")),
            str(levels.count("warning")),
        )
    out.print(table)
    for step in report.steps:
        for finding in step.findings:
            colour = "red" if finding.level == "error" else "yellow"
            out.print(
                f"step {step.step} {step.persona}: [{colour}]{finding.level}[/] "
                f"{escape(finding.message)}",
                markup=True,
                soft_wrap=True,
            )
    if not report.spamassassin and spam:
        out.print("SpamAssassin is not installed: no spam scores (apt-get install spamassassin).")
    if report.errors:
        out.print(f"{report.errors} error(s).")
        raise typer.Exit(1)


suppress_app = typer.Typer(
    help="Global, permanent suppression (unsubscribes, bounces, complaints).", no_args_is_help=True
)
app.add_typer(suppress_app, name="suppress")


@suppress_app.command("list")
def suppress_list_command(
    ctx: typer.Context,
    reason: Annotated[str | None, typer.Option(help="Only this reason.")] = None,
) -> None:
    """Every suppressed address: when, why and from what source."""
    rows = suppression.list_suppressions(_ctx(ctx).db, reason)
    table = Table(title=f"{len(rows)} suppressed address(es)")
    for column in ("email", "reason", "since", "source"):
        table.add_column(column)
    for row in rows:
        since = row.created_at.isoformat(timespec="minutes") if row.created_at else ""
        table.add_row(row.email, row.reason, since, row.source)
    out.print(table)


@suppress_app.command("add")
def suppress_add_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Address to suppress.")],
    reason: Annotated[SuppressReason, typer.Option(help="Why.")] = SuppressReason.MANUAL,
) -> None:
    """Never send marketing mail to EMAIL again, in any campaign."""
    address = _clean(email)
    with _ctx(ctx).db.session() as session:
        added = suppression.add_suppression(session, address, reason, "cli", _now(None))
    out.print(f"{address} suppressed ({reason})" if added else f"{address} was already suppressed")


@suppress_app.command("remove")
def suppress_remove_command(
    ctx: typer.Context, email: Annotated[str, typer.Argument(help="Address to mail again.")]
) -> None:
    """Lift a suppression (only when the person asked to be mailed again)."""
    address = _clean(email)
    if not suppression.remove_suppression(_ctx(ctx).db, address):
        raise NotFound(f"{address} is not suppressed")
    out.print(f"{address} is no longer suppressed")


@suppress_app.command("import")
def suppress_import_command(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="CSV with an email/recipient column."),
    ],
    reason: Annotated[SuppressReason, typer.Option(help="Why.")] = SuppressReason.COMPLAINT,
) -> None:
    """Suppress every address of a feedback-loop, bounce or unsubscribe report."""
    result = suppression.import_suppressions(_ctx(ctx).db, file, reason, _now(None))
    out.print(
        f"{result.file}: {result.added} suppressed ({reason}), {result.already} already, "
        f"{len(result.rejected)} rejected"
    )
    for problem in result.rejected:
        err.print(f"[red]rejected[/red] {problem}", markup=True)
    if result.rejected:
        raise typer.Exit(1)


# `contacts export` and `contacts forget` join the `contacts` group defined above.


@contacts_app.command("export")
def contacts_export_command(
    ctx: typer.Context, email: Annotated[str, typer.Argument(help="The person's address.")]
) -> None:
    """Print all data held on EMAIL as JSON (for a data subject access request)."""
    data = privacy.export_person(_ctx(ctx).db, email)
    print(json.dumps(data, indent=2, ensure_ascii=False))


@contacts_app.command("forget")
def contacts_forget_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The person's address.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase EMAIL's personal data; keep only a hashed suppression so it is never mailed again."""
    if not yes and not typer.confirm(f"Erase everything held on {email}? This cannot be undone"):
        raise typer.Abort()
    report = privacy.forget_person(_ctx(ctx).db, email, _now(None))
    out.print(
        f"{report.email}: contact {'erased' if report.contact_erased else 'not found'}, "
        f"{report.messages} message(s) and {report.events} event(s) cleared, "
        f"{report.consent_records} consent record(s) deleted; hashed suppression kept"
    )


def _clean(email: str) -> str:
    try:
        return imports.clean_email(email)
    except ValueError as exc:
        raise typer.BadParameter(f"{email!r}: {exc}", param_hint="EMAIL") from None


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
