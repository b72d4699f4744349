"""`campaign rehearse`: the whole campaign in simulated time on a scratch copy; nothing is real."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from campaign_engine.cli.app import HiddenNowOption, context_of, err, out, parse_now
from campaign_engine.cli.deliverability import print_lint
from campaign_engine.cli.launch import (
    AllowOverlapOption,
    EnrollUntilOption,
    LateJoinersOption,
    NameOption,
    SendDaysOption,
    SequenceArgument,
    StartOption,
    ZoneOption,
    launch_options,
)
from campaign_engine.engine.rehearsal import SAMPLES_DIR, Rehearsal, recipients_csv, rehearse
from campaign_engine.engine.rehearsal.model import SampleEmail
from campaign_engine.engine.rehearsal.proof import send_proofs
from campaign_engine.sending.transport import make_transport

__all__ = ["rehearse_command"]

_SHOWN = 10  # recipients printed; --out writes them all


def rehearse_command(
    ctx: typer.Context,
    sequence: SequenceArgument,
    start: StartOption,
    name: NameOption = None,
    timezone: ZoneOption = None,
    late_joiners: LateJoinersOption = True,
    enroll_until: EnrollUntilOption = None,
    send_days: SendDaysOption = None,
    allow_overlap: AllowOverlapOption = False,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", dir_okay=False, help="Write every recipient's step dates (CSV)."),
    ] = None,
    samples: Annotated[
        int, typer.Option(min=1, help="Sample contacts per segment, persona and channel.")
    ] = 2,
    samples_dir: Annotated[
        Path | None,
        typer.Option(file_okay=False, help="Write the sample emails here (.eml files)."),
    ] = None,
    test_to: Annotated[
        str | None,
        typer.Option(help="Also send each sample email to this address (subject [Rehearsal])."),
    ] = None,
    spam: Annotated[bool, typer.Option(help="Score with SpamAssassin when installed.")] = True,
    now: HiddenNowOption = None,
) -> None:
    """Rehearse a launch in simulated time on a scratch copy: nothing real is written or sent.

    Shows the calendar per local day and time zone, every recipient's dates, sample emails,
    lint and spam scores, and conflicts (overlap, frequency cap, missing reps, no time zone).
    """
    c = context_of(ctx)
    options = launch_options(
        sequence, start, name, timezone, late_joiners, enroll_until, send_days, allow_overlap
    )
    with tempfile.TemporaryDirectory(prefix="campaign-rehearsal-") as scratch:
        directory = Path(scratch)
        with err.status("Rehearsing in simulated time..."):
            result = rehearse(
                c.existing_db, c.settings, options, parse_now(now), directory, samples, spam
            )
        _print(result, spam)
        if out_file is not None:
            out_file.write_text(recipients_csv(result), encoding="utf-8", newline="")
            out.print(f"{len(result.recipients)} recipient(s) written to {out_file}")
        if samples_dir is not None:
            shutil.copytree(directory / SAMPLES_DIR, samples_dir, dirs_exist_ok=True)
            out.print(f"sample emails written to {samples_dir}")
        if test_to is not None:
            sent = asyncio.run(
                send_proofs(
                    c.settings,
                    make_transport(c.settings),
                    directory / SAMPLES_DIR,
                    result.samples,
                    test_to,
                )
            )
            ok = sum(1 for outcome in sent if outcome.ok)
            out.print(f"test emails: {ok} of {len(sent)} sent to {test_to}")
            for outcome in sent:
                if not outcome.ok:
                    err.print(f"test email not sent: {outcome.detail}")


def _print(result: Rehearsal, spam: bool) -> None:
    out.print(
        f"Rehearsal of {result.campaign!r}: {result.emails} automated email(s), simulated from "
        f"{result.rehearsed_at:%Y-%m-%d %H:%M} to {result.simulated_until:%Y-%m-%d %H:%M} UTC; "
        "nothing real was written or sent."
    )
    enrolled = ", ".join(f"{key} {n}" for key, n in result.enrolled.items())
    out.print(
        f"enrolled: {enrolled}; not enrolled: {result.not_enrolled} in mode A, "
        f"{result.overlapping} active in another running campaign"
    )
    calendar = Table(title=f"Calendar: automated emails per local day and time zone "
                     f"(window {result.window} in each contact's zone)")  # fmt: skip
    for column in ("local day", "time zone", "emails", "first", "last", "email #"):
        calendar.add_column(column, justify="right" if column == "emails" else "left")
    for day in result.calendar:
        calendar.add_row(
            f"{day.day:%a %Y-%m-%d}", day.zone, str(day.emails), day.first, day.last,
            ", ".join(map(str, day.steps)),
        )  # fmt: skip
    out.print(calendar)
    if result.warmup:
        out.print(result.warmup, soft_wrap=True)
    steps = max((len(r.steps) for r in result.recipients), default=0)
    people = Table(title=f"Recipients (first {min(_SHOWN, len(result.recipients))} of "
                   f"{len(result.recipients)}; --out FILE.csv writes all)")  # fmt: skip
    for column in ("email", "segment", "persona", "time zone", *(f"email {n}" for n in
                   range(1, steps + 1))):  # fmt: skip
        people.add_column(column, overflow="fold")
    for r in result.recipients[:_SHOWN]:
        people.add_row(r.email, r.segment, r.persona, r.zone, *(s.cell() for s in r.steps))
    out.print(people)
    shown = Table(title="Sample emails (--samples-dir DIR writes them; --test-to ADDRESS sends)")
    for column in ("segment", "persona", "channel", "contact", "emails (local send time)"):
        shown.add_column(column, overflow="fold")
    for (segment, persona, channel, contact), emails in _by_contact(result.samples).items():
        sent = "; ".join(f"{s.step}: {s.sent_local}" for s in emails if s.sent_local)
        drafts = ", ".join(str(s.step) for s in emails if not s.sent_local)
        sent += ("; " if sent and drafts else "") + (f"rep drafts {drafts}" if drafts else "")
        shown.add_row(segment, persona, channel, contact, sent)
    out.print(shown)
    print_lint(result.lint, spam)
    if not result.conflicts:
        out.print("No conflicts found.")
    for conflict in result.conflicts:
        out.print(f"[yellow]conflict[/] {escape(str(conflict))}", markup=True, soft_wrap=True)


def _by_contact(samples: list[SampleEmail]) -> dict[tuple[str, str, str, str], list[SampleEmail]]:
    grouped: dict[tuple[str, str, str, str], list[SampleEmail]] = {}
    for s in samples:
        grouped.setdefault((s.segment, s.persona, s.channel, s.contact), []).append(s)
    return grouped
