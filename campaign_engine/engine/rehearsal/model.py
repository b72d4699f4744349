"""What a rehearsal found: the calendar, every recipient's step dates, sample emails, lint and
conflicts. Plain data (saved as JSON for the console), and the pure functions that lay it out."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import TypeAdapter

from campaign_engine.audience.csvfile import csv_safe
from campaign_engine.engine.launch import LateJoiners
from campaign_engine.sending.lint import LintReport
from campaign_engine.sending.planner import zone

__all__ = [
    "CalendarDay",
    "Conflict",
    "LaunchOptions",
    "RecipientPlan",
    "Rehearsal",
    "SampleEmail",
    "StepDate",
    "calendar_of",
    "recipients_csv",
]


@dataclass(frozen=True)
class LaunchOptions:
    """What `campaign launch` is given: a rehearsal takes the same, and the console launches
    exactly what was rehearsed."""

    sequence: str
    start: date
    name: str | None = None
    timezone: str | None = None
    allow_overlap: bool = False
    late: LateJoiners = field(default_factory=LateJoiners)


@dataclass(frozen=True)
class StepDate:
    """One step of one recipient: when it went out (local time in their zone), or why not."""

    step: int
    sent_at: datetime | None = None  # UTC
    local: str = ""  # "2021-04-27 09:00" in the recipient's zone
    note: str = ""  # "skipped: excluded: ...", "held by the frequency cap", "rep draft"

    def cell(self) -> str:
        return "; ".join(part for part in (self.local, self.note) if part)


@dataclass(frozen=True)
class RecipientPlan:
    email: str
    first_name: str
    last_name: str
    account: str
    segment: str
    persona: str
    channel: str
    zone: str
    zone_source: str  # "contact", "account" or "campaign"
    rep: str
    steps: list[StepDate]


@dataclass(frozen=True)
class CalendarDay:
    """The automated emails of one local day in one time zone."""

    day: date
    zone: str
    emails: int
    first: str  # "09:00" local
    last: str
    steps: tuple[int, ...]


@dataclass(frozen=True)
class SampleEmail:
    """One rendered email (automated) or draft (rep channel) of a sampled contact."""

    segment: str
    persona: str
    channel: str
    contact: str
    step: int
    subject: str
    sent_local: str = ""
    eml: str = ""  # file name of the message as the relay would get it (automated)
    text: str = ""  # the draft's text (rep channel)


@dataclass(frozen=True)
class Conflict:
    kind: str
    count: int
    detail: str
    examples: tuple[str, ...] = ()

    def __str__(self) -> str:
        more = f" (e.g. {', '.join(self.examples)})" if self.examples else ""
        return f"{self.kind}: {self.detail}{more}"


@dataclass
class Rehearsal:
    id: str
    options: LaunchOptions
    campaign: str
    rehearsed_at: datetime  # the real moment the rehearsal started from
    simulated_until: datetime
    timezone: str  # the campaign's
    window: str  # "09:00-17:00"
    send_days: str
    enrolled: dict[str, int]  # "SMB automated" -> contacts
    not_enrolled: int  # outreach mode A
    overlapping: int  # left out: active in another running campaign
    due_at_once: int  # a start in the past: emails due at the first tick
    emails: int  # automated emails sent in the simulation
    calendar: list[CalendarDay]
    recipients: list[RecipientPlan]
    samples: list[SampleEmail]
    lint: LintReport
    conflicts: list[Conflict]
    warmup: str = ""  # how the sending domain's warm-up ramp spread the emails; "" = no warm-up

    @property
    def starts_in_the_past(self) -> bool:
        return self.due_at_once > 0

    def to_json(self) -> bytes:
        return _ADAPTER.dump_json(self)

    @classmethod
    def from_json(cls, data: bytes) -> Rehearsal:
        return _ADAPTER.validate_json(data)


_ADAPTER: TypeAdapter[Rehearsal] = TypeAdapter(Rehearsal)


def calendar_of(sends: Iterable[tuple[datetime, str, int]]) -> list[CalendarDay]:
    """(sent at UTC, zone, step) -> one row per local day and zone, in day then zone order."""
    days: dict[tuple[date, str], list[tuple[datetime, int]]] = defaultdict(list)
    for sent_at, tz, step in sends:
        local = sent_at.astimezone(zone(tz))
        days[(local.date(), tz)].append((local, step))
    rows = []
    for (day, tz), items in sorted(days.items()):
        times = sorted(local for local, _ in items)
        rows.append(
            CalendarDay(
                day,
                tz,
                len(items),
                times[0].strftime("%H:%M"),
                times[-1].strftime("%H:%M"),
                tuple(sorted({step for _, step in items})),
            )
        )
    return rows


def recipients_csv(rehearsal: Rehearsal) -> str:
    """Every recipient with their step dates (local time in their zone), formula-safe."""
    steps = max((len(r.steps) for r in rehearsal.recipients), default=0)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "email",
            "first_name",
            "last_name",
            "account",
            "segment",
            "persona",
            "channel",
            "time_zone",
            "zone_from",
            "rep",
            *(f"email_{n}" for n in range(1, steps + 1)),
        ]
    )
    for r in rehearsal.recipients:
        cells = [r.email, r.first_name, r.last_name, r.account, r.segment, r.persona, r.channel]
        cells += [r.zone, r.zone_source, r.rep, *(s.cell() for s in r.steps)]
        writer.writerow([csv_safe(cell) for cell in cells])
    return buffer.getvalue()
