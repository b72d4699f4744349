"""Running campaigns: `campaign launch`, `tick`, `run`, `serve`, `status` and `report`."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from campaign_engine.cli.app import (
    CampaignOption,
    Context,
    Format,
    FormatOption,
    HiddenNowOption,
    JsonLogsOption,
    NowOption,
    QuietOption,
    context_of,
    err,
    out,
    parse_now,
)
from campaign_engine.cli.backlog import backlog_line
from campaign_engine.cli.local_time import print_local_days
from campaign_engine.cli.logs import setup_logging
from campaign_engine.cli.tables import print_rows
from campaign_engine.core.secretcheck import require_strong_secret
from campaign_engine.reporting import report_export, reports
from campaign_engine.reporting.dashboard import FIGURE_COLUMNS, render_dashboard, show
from campaign_engine.reporting.report_model import CampaignReport, Report, TitleSlice
from campaign_engine.reporting.request_lists import count_unassigned
from campaign_engine.reps import unowned_drafts
from campaign_engine.sending import relay_state
from campaign_engine.sending.brakes import brake_states
from campaign_engine.sending.pace_store import pacing_line
from campaign_engine.sending.warmup import ramp_for
from campaign_engine.sending.warmup_facts import warmup_line
from campaign_engine.store import queries

log = logging.getLogger(__name__)


def tick(
    ctx: typer.Context,
    now: NowOption = None,
    quiet: QuietOption = False,
    json_logs: JsonLogsOption = False,
) -> None:
    """Do all work due at this moment once, then exit (cron-friendly)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from campaign_engine.engine.scheduler import tick_once

    c = context_of(ctx)
    setup_logging(verbose=c.verbose, quiet=quiet, json_logs=json_logs, engine=True)
    require_strong_secret(c.settings)
    moment = parse_now(now)
    # A spinner and the elapsed time on a terminal (stderr), so a long tick is not silent.
    spinner = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=json_logs or not err.is_terminal,
    )
    with spinner:
        spinner.add_task(f"Ticking {moment.isoformat()}", total=None)
        report, stopped = asyncio.run(tick_once(c.settings, c.db, moment))
    if not stopped.signalled:
        log.info(
            "tick: %s", report, extra={"counts": dict(report.counts), "seconds": report.seconds}
        )
    out.print(str(stopped) if stopped.signalled else f"tick {moment.isoformat()}: {report}")


def run(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(help="Tracking endpoints: address (other than loopback: a strong secret)."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Tracking endpoints: port.")] = 8080,
    web: Annotated[
        bool, typer.Option("--web/--no-web", help="Serve the tracking endpoints too.")
    ] = True,
    quiet: QuietOption = False,
    json_logs: JsonLogsOption = False,
) -> None:
    """Long-running: tick every tick_seconds and serve the tracking endpoints (from a child
    process, so a long tick never delays them) until Ctrl-C; logs one line per tick."""
    from campaign_engine.cli.web_child import web_process
    from campaign_engine.engine.scheduler import run_forever

    c = context_of(ctx)
    setup_logging(verbose=c.verbose, quiet=quiet, json_logs=json_logs, engine=True)
    require_strong_secret(c.settings, host if web else None)
    server = (
        web_process(c.settings, host, port, verbose=c.verbose, quiet=quiet, json_logs=json_logs)
        if web
        else None
    )
    serving = f" and serving tracking on http://{host}:{port}" if web else ""
    out.print(
        f"Ticking every {c.settings.tick_seconds:g}s{serving}; Ctrl-C stops: sends in flight"
        " finish, the rest goes back to the queue."
    )
    out.print(str(asyncio.run(run_forever(c.settings, c.db, web=server))))


def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Address to listen on (other than loopback: needs a strong secret).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[
        int, typer.Option(min=1, help="Server processes sharing the port (one per core).")
    ] = 1,
) -> None:
    """Serve the tracking endpoints (open pixel, clicks, contact page, unsubscribe) until Ctrl-C."""
    import uvicorn

    from campaign_engine.cli.serve_workers import run_workers

    c = context_of(ctx)
    require_strong_secret(c.settings, host)
    out.print(f"Serving tracking endpoints on http://{host}:{port}; Ctrl-C stops.")
    if workers > 1:
        c.db.dispose()  # migrated here, once; each worker opens its own connections
        run_workers(c.settings, host, port, workers, c.verbose)
    else:
        uvicorn.Server(_web_config(c, host, port)).run()
    out.print("Stopped.")


def status(
    ctx: typer.Context,
    campaign: CampaignOption = None,
    format: FormatOption = Format.table,
    now: HiddenNowOption = None,
) -> None:
    """Per campaign and step: contacts due and not queued yet, queued (and what holds them
    back), sent, bounced (at RCPT and by DSN), complaints, failed, skipped (and why); a
    campaign the brakes paused, or a bounce or complaint rate above half their limit; the
    contact requests and the drafts waiting for a rep (accounts no rep owns)."""
    c = context_of(ctx)
    moment = parse_now(now)
    with c.existing_db.session() as session:
        if campaign:
            queries.campaign_by_name(session, campaign)
        statuses = reports.campaign_statuses(session, campaign, now=moment)
        rate = reports.recent_send_rate(session, moment)
        unassigned = count_unassigned(session)
        drafts_line = unowned_drafts.status_line(unowned_drafts.waiting(session))
        held = [s for s in brake_states(session, c.settings) if s.line]
    relay = relay_state.pause_status(c.existing_db, c.settings, moment)
    if format is Format.json:
        out.print_json(json.dumps(reports.to_jsonable(statuses)))
        return
    if relay.paused:
        out.print(relay.line)
    if len(c.settings.relays) > 1:  # each relay's state and share of the last day's sends
        for each in relay_state.relay_statuses(c.existing_db, c.settings, moment):
            out.print(each.line)
    for state in held:
        if campaign is None or state.name == campaign or state.scope == "domain":
            out.print(state.line)
    _print_statuses(statuses, relay.paused)
    line = backlog_line(statuses, rate, c.settings, relay.paused)
    if line:
        out.print(line)
    paced = pacing_line(c.existing_db, c.settings.pacing, c.settings.timezone)
    if paced:
        out.print(paced)
    warming = warmup_line(c.existing_db, ramp_for(c.settings), moment)
    if warming:
        out.print(warming)
    out.print(
        f"Contact requests no rep owns: {unassigned}"
        + (" (the console's Unassigned page; `campaign accounts assign`)" if unassigned else "")
    )
    out.print(drafts_line)


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    html = "html"


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
    """Funnel per campaign, email, segment, persona, offer page and rep; human engagement only;
    SAO, stages and the longest one; sends per local day."""
    c = context_of(ctx)
    with c.existing_db.session() as session:
        if campaign:
            queries.campaign_by_name(session, campaign)
        now = parse_now(None)
        pending = reports.due_reminder_counts(now, c.settings.reminder_days)
        result = reports.load_report(session, now, campaign, reminders=pending)
        local_days = {c.name: c.sent_per_local_day for c in result.campaigns}
        statuses = reports.campaign_statuses(session, campaign, local_days, now)
    if format is ReportFormat.table:
        _print_statuses(statuses)
        _print_report(result)
        return
    renderers: dict[ReportFormat, Callable[[Report], str]] = {
        ReportFormat.json: lambda r: report_export.to_json(r, reports.to_jsonable(statuses)),
        ReportFormat.csv: report_export.to_csv,
        ReportFormat.html: lambda r: render_dashboard(r, c.settings.templates_dir),
    }
    text = renderers[format](result)
    if out_file is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    out_file.write_text(text, encoding="utf-8", newline="")
    out.print(f"{format.value} report written to {out_file}")


def _print_statuses(statuses: list[reports.CampaignStatus], relay_paused: bool = False) -> None:
    if not statuses:
        out.print("No campaigns yet: run `campaign launch SEQUENCE --start YYYY-MM-DD`.")
    for item in statuses:
        enrolled = ", ".join(f"{k} {v}" for k, v in sorted(item.enrolled.items()))
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
        rows = []
        for step in item.steps:
            s = step.states
            reasons = "; ".join(f"{n} {r}" for r, n in sorted(step.skipped_reasons.items()))
            skipped = f"{s['skipped']}" + (f" ({reasons})" if reasons else "")
            deferred = dict(step.deferred_reasons)
            if relay_paused and step.due_waiting:
                deferred["relay pause"] = step.due_waiting
            held = "; ".join(f"{n} {r}" for r, n in sorted(deferred.items()))
            waiting = f"{s['queued'] + s['sending']}" + (f" (deferred: {held})" if held else "")
            why = "; ".join(f"{n} {r}" for r, n in sorted(step.failed_reasons.items()))
            failed = f"{s['failed']}" + (f" ({why})" if why else "")
            bounced = f"{s['bounced'] + step.bounced_by_dsn}" + (
                f" ({step.bounced_by_dsn} by DSN)" if step.bounced_by_dsn else ""
            )
            rows.append(
                (
                    str(step.step),
                    str(step.day),
                    step.subject,
                    waiting,
                    str(s["sent"]),
                    str(s["retry"]),
                    failed,
                    bounced,
                    skipped,
                    str(s["uncertain"]),
                )
            )
        print_rows(
            f"{item.name}  ({item.sequence}, from {item.start_date}, {item.window_text})",
            columns,
            rows,
            right=set(columns) - {"subject"},
            caption=f"enrolled: {enrolled or 'none'}; next due: {item.next_due_at or '-'}",
        )
        for line in _step_lines(item):
            out.print(line)
        print_local_days(item)


def _step_lines(item: reports.CampaignStatus) -> list[str]:
    """What the table leaves out: contacts not queued yet per step, and complaints."""
    waiting = [
        f"email {s.step}: {s.backlog} due now" + (f", {s.later} later" if s.later else "")
        if s.backlog
        else f"email {s.step}: {s.later} later"
        for s in item.steps
        if s.backlog or s.later
    ]
    complaints = [f"email {s.step}: {s.complaints}" for s in item.steps if s.complaints]
    lines = [f"not queued yet: {'; '.join(waiting)}"] if waiting else []
    return lines + ([f"complaints: {'; '.join(complaints)}"] if complaints else [])


def _print_report(result: Report) -> None:
    if not result.campaigns:
        out.print("No campaigns yet: run `campaign launch SEQUENCE --start YYYY-MM-DD`.")
    for item in result.campaigns:
        t = item.totals
        out.print(
            f"{item.name} ({item.sequence}, from {item.start_date}): "
            f"{t.enrolled} enrolled, {item.touched} emailed, SAO {item.sao}; contact requests "
            f"handled: {', '.join(f'{k} {n}' for k, n in item.requests_handled.items())};"
            " not counted: "
            f"{t.apple_opens} Apple privacy opens, {t.scanner_opens} scanner opens, "
            f"{t.scanner_clicks} scanner clicks"
        )
        rows = [("all", t)] + [(f"email {s.step}", s.figures) for s in item.steps]
        rows += [(f"segment {g.segment}", g.figures) for g in item.segments]
        labels = [label for _, label in FIGURE_COLUMNS]
        print_rows(
            "Funnel (human engagement)",
            ["", *labels],
            [
                [label, *(show(asdict(figures)[key], key == "ctor") for key, _ in FIGURE_COLUMNS)]
                for label, figures in rows
            ],
            right=labels,
        )
        _print_personas(item)
        offer_columns = ("email", "offer", "delivered with it", "clicked", "clicks", "click rate")
        print_rows(
            "Visits per offer page",
            offer_columns,
            [
                (
                    str(o.step),
                    o.name,
                    str(o.offered),
                    str(o.clicks_unique),
                    str(o.clicks_total),
                    show(o.click_rate, True),
                )
                for o in item.offers
            ],
            right=set(offer_columns) - {"offer"},
        )
        rep_columns = ("rep", "contacts", "drafts sent", "reminders pending", "requests", "SAO")
        print_rows(
            "Reps",
            rep_columns,
            [
                (
                    r.rep or r.name,
                    str(r.contacts),
                    str(r.drafts_sent),
                    str(r.reminders_pending),
                    str(r.requests_received),
                    str(r.sao),
                )
                for r in item.reps
            ],
            right=set(rep_columns) - {"rep"},
        )
        print_rows(
            "Sales stages of the contacts emailed",
            ("stage", "reached", "now in it", "average days"),
            [
                (f"{st.stage} - {st.name}", str(st.reached), str(st.current),
                 show(st.average_days))
                for st in item.stages
            ],
            right=("reached", "now in it", "average days"),
        )  # fmt: skip
        longest = item.longest_stage
        out.print(
            f"Longest stage: {longest.stage} {longest.name}, {show(longest.average_days)} days on average"
            if longest
            else "Longest stage: not known yet (no emailed contact has left a stage)"
        )


def _print_personas(item: CampaignReport) -> None:
    _print_title_slices("persona", "[personas]", [(p.persona, p) for p in item.personas])
    _print_title_slices("role", "[roles]", [(r.role, r) for r in item.roles])


def _print_title_slices(name: str, table_name: str, slices: list[tuple[str, TitleSlice]]) -> None:
    headings = (name, "titles", "emailed", "opened", "open rate", "clicked", "click rate",
                "contact requests", "request rate", "SAO", "SAO rate")  # fmt: skip
    rows = [
        (label, str(p.titles), str(p.emailed), str(p.figures.opens_unique),
         show(p.open_rate, True), str(p.figures.clicks_unique), show(p.click_rate, True),
         str(p.figures.contact_requests), show(p.request_rate, True), str(p.sao),
         show(p.sao_rate, True))
        for label, p in slices
    ]  # fmt: skip
    print_rows(
        f"By {name} (the campaign's {table_name} table maps each title)",
        headings,
        rows,
        right=set(headings) - {name},
    )


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
