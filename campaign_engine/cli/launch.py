"""`campaign launch`: plan, show, confirm, then create the campaign and enrol its contacts."""

from __future__ import annotations

import getpass
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from campaign_engine.cli.app import HiddenNowOption, context_of, err, out, parse_now
from campaign_engine.cli.local_time import first_sends_table
from campaign_engine.core.errors import CampaignEngineError
from campaign_engine.engine import launch as launching
from campaign_engine.engine.rehearsal import LaunchOptions
from campaign_engine.reps.request_alerts import fallback_recipients
from campaign_engine.reps.unowned_drafts import listed

__all__ = [
    "AllowOverlapOption",
    "EnrollUntilOption",
    "LateJoinersOption",
    "NameOption",
    "SendDaysOption",
    "SequenceArgument",
    "StartOption",
    "ZoneOption",
    "launch",
    "launch_options",
]

_NOBODY_TOLD = "nobody is emailed this list (set [reps] unassigned_to, or add an ops user)"


SequenceArgument = Annotated[str, typer.Argument(help="Name of sequences/SEQUENCE.toml.")]
StartOption = Annotated[str, typer.Option(help="First send day, YYYY-MM-DD.")]
NameOption = Annotated[str | None, typer.Option(help="Campaign name (default: SEQUENCE START).")]
ZoneOption = Annotated[
    str | None, typer.Option(help="IANA time zone of contacts without one (default: config).")
]
LateJoinersOption = Annotated[
    bool, typer.Option(help="Enrol contacts who become eligible after launch, at each tick.")
]
EnrollUntilOption = Annotated[
    str | None, typer.Option(help="Last local day a late joiner may start, YYYY-MM-DD.")
]
SendDaysOption = Annotated[
    str | None, typer.Option(help="Weekdays to send on, e.g. mon-fri (default: sequence's).")
]
AllowOverlapOption = Annotated[
    bool, typer.Option("--allow-overlap", help="Also enrol contacts active in another campaign.")
]


def launch(
    ctx: typer.Context,
    sequence: SequenceArgument,
    start: StartOption,
    name: NameOption = None,
    timezone: ZoneOption = None,
    late_joiners: LateJoinersOption = True,
    enroll_until: EnrollUntilOption = None,
    send_days: SendDaysOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show who would get which email when; write nothing.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="No confirmation (scripts); needed for a past start.")
    ] = False,
    allow_overlap: AllowOverlapOption = False,
    now: HiddenNowOption = None,
) -> None:
    """Create a campaign from a sequence and enrol every eligible contact."""
    c = context_of(ctx)
    moment = parse_now(now)
    options = launch_options(
        sequence, start, name, timezone, late_joiners, enroll_until, send_days, allow_overlap
    )
    plan = launching.plan_launch(
        c.db,
        c.settings,
        sequence,
        options.start,
        moment,
        name,
        timezone,
        allow_overlap,
        options.late,
    )
    if dry_run or (err.is_terminal and not yes):
        _print_plan(plan)
    if dry_run:
        out.print("dry run: nothing was written")
        if not plan.enrollments:
            raise CampaignEngineError(f"nothing to launch: {plan.why_nobody()}")
        return
    if plan.enrollments and plan.starts_in_the_past:
        warning = (
            f"the start {plan.campaign.start_date.isoformat()} is in the past: "
            f"{plan.due_at_once} email(s) go out at the next tick"
        )
        if not yes:
            raise CampaignEngineError(f"{warning}; pass --yes to launch anyway")
        err.print(f"warning: {warning}")
    confirm = plan.enrollments and err.is_terminal and not yes
    if confirm and not typer.confirm(f"Launch {plan.campaign.name!r}?"):
        raise typer.Abort()
    result = launching.launch(c.db, c.settings, sequence, plan.campaign.start_date, moment,
                              plan=plan, by=f"cli ({_os_user()})")  # fmt: skip
    table = Table(title=f"Launched {result.name!r}")
    for column in ("segment", "channel", "contacts"):
        table.add_column(column)
    for (segment, channel), count in sorted(result.enrolled.items()):
        table.add_row(segment, channel, str(count))
    table.add_row("any", "none (mode A)", str(result.not_enrolled))
    if result.overlapping:
        table.add_row("any", "none (in another running campaign)", str(result.overlapping))
    out.print(table)
    out.print(first_sends_table(result.first_sends))
    _print_deadline(result.exclusion_deadline)
    if result.unowned:
        with c.db.session() as session:
            told = ", ".join(fallback_recipients(session, c.settings))
        contacts = sum(a.contacts for a in result.unowned)
        err.print(
            f"warning: {contacts} rep-channel contact(s) at {len(result.unowned)} account(s) no"
            " rep owns get nothing until their account has a rep; "
            + (f"this list is emailed to {told}" if told else _NOBODY_TOLD)
            + ". Give each one a rep: `campaign accounts assign ACCOUNT REP_EMAIL` or the"
            " console's Unassigned page"
        )
        for line in listed(result.unowned):
            err.print(f"  {line}")


def _print_deadline(deadline: date | None) -> None:
    if deadline is not None:
        out.print(
            f"exclusion deadline: {deadline.isoformat()} (the sequence's default; move it with"
            " `campaign exclusions deadline`)"
        )


def _print_plan(plan: launching.LaunchPlan) -> None:
    """Who would get which email when: automated emails per day and segment, then reps."""
    zone = plan.campaign.timezone
    table = Table(title=f"{plan.campaign.name!r}: automated emails (days in {zone})")
    for column in ("day", "email", "subject", "segment", "contacts"):
        table.add_column(column)
    for send in plan.sends:
        day = send.day.isoformat()
        table.add_row(day, str(send.step), send.subject, send.segment, str(send.contacts))
    out.print(table)
    if plan.warmup:
        out.print(plan.warmup, soft_wrap=True)
    out.print(first_sends_table(plan.first_sends))
    _print_deadline(plan.exclusion_deadline)
    reps = sorted((s, n) for (s, channel), n in plan.enrolled.items() if channel == "rep")
    for segment, count in reps:
        waiting = plan.without_rep[segment]
        out.print(
            f"rep channel: {count} {segment} contact(s) get drafts for their rep"
            + (
                f" ({waiting} at accounts no rep owns: nothing until they get one)"
                if waiting
                else ""
            )
        )
    out.print(
        f"not enrolled: {plan.not_enrolled} in mode A, {plan.overlapping} active in another "
        "running campaign"
    )


def launch_options(
    sequence: str,
    start: str,
    name: str | None,
    timezone: str | None,
    late_joiners: bool,
    enroll_until: str | None,
    send_days: str | None,
    allow_overlap: bool,
) -> LaunchOptions:
    """The options of `campaign launch` (and `rehearse`), dates checked."""
    until = launching.parse_day(enroll_until, "--enroll-until") if enroll_until else None
    late = launching.LateJoiners(late_joiners, until, send_days)
    return LaunchOptions(
        sequence, launching.parse_day(start, "--start"), name, timezone, allow_overlap, late
    )


def _os_user() -> str:
    """Who runs the command, for the campaign's log."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "unknown"
