"""`campaign digests set|preview|send`: engagement digests to reps."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from campaign_engine.cli.app import NowOption, command_group, context_of, out, parse_now, subcommand
from campaign_engine.reps import digests, reminder_query
from campaign_engine.reps.digest_delivery import DigestReport
from campaign_engine.reps.digest_render import contacts
from campaign_engine.reps.rep_view import local_time
from campaign_engine.sending.throttle import limiter_for
from campaign_engine.sending.transport import make_transport

digests_app = command_group(
    help="Email offer engagement digests to reps: schedule, preview, send.", no_args_is_help=True
)


class DigestModeOption(StrEnum):
    scheduled = "scheduled"
    immediate = "immediate"
    off = "off"


@subcommand(
    digests_app,
    "set",
    "campaign digests set --rep rep@example.com --mode scheduled --hour 8 --weekdays mon-fri",
)
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
    c = context_of(ctx)
    found, pref = digests.set_preference(c.db, rep, mode.value if mode else None, hour, weekdays)
    out.print(f"{found.email}: digests {digests.describe(pref, found.timezone)}")


@subcommand(digests_app, "preview", "campaign digests preview --rep rep@example.com")
def digests_preview_command(
    ctx: typer.Context,
    rep: Annotated[str, typer.Option("--rep", help="The rep's email.")],
    now: NowOption = None,
) -> None:
    """Print what the rep's next digest would contain; nothing is claimed or sent."""
    c = context_of(ctx)
    preview = digests.preview_digest(c.existing_db, rep, parse_now(now), c.settings.reminder_days)
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
            draft = (
                reminder_query.draft_command(line.draft_id) if line.draft_id else "no open draft"
            )
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
    count = contacts(len(preview.entries))
    table = Table(title=f"Next digest for {preview.rep.email} ({count})")
    for column in ("contact", "account", "activity", "email", "when", "next step"):
        table.add_column(column)
    for entry in preview.entries:
        for index, a in enumerate(entry.activities):
            what = a.label + (f": {a.offer_name}" if a.offer_name else "")
            what += f" ({a.count}x)" if a.count > 1 else ""
            table.add_row(
                f"{entry.name}\n{entry.title} ({entry.role})" if index == 0 else "",
                f"{entry.account} ({entry.segment})" if index == 0 else "",
                what,
                a.email,
                local_time(a.last_at, preview.rep.timezone),
                entry.next_step if index == 0 else "",
            )
    out.print(table)


@subcommand(digests_app, "send", "campaign digests send --rep rep@example.com")
def digests_send_command(
    ctx: typer.Context,
    rep: Annotated[
        str | None, typer.Option("--rep", help="Only this rep, whatever the schedule.")
    ] = None,
    now: NowOption = None,
) -> None:
    """Send the digests due now (with --rep: that rep's, regardless of schedule)."""
    c = context_of(ctx)
    moment = parse_now(now)

    async def run() -> DigestReport:
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
