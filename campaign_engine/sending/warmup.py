"""PURE warm-up of a new sending domain: how many campaign emails each day of its ramp allows,
and which due steps take today's places. No I/O, no clock reads.

Receiving providers trust a domain they have seen send steadily; a new one that sends its whole
list on day one gets deferred or filtered. The ramp allows `start_per_day` on day 0 and `growth`
times the day before on each next day. A day's places go to the steps due by its end, in this
order: follow-ups of contacts already mailed (their spacing holds), then the most engaged
contacts (replies, then human clicks, then human opens), then the oldest due, then the enrolment
made first. The rest wait for the next day.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from campaign_engine.core.config import Settings
from campaign_engine.sending.planner import Candidate, Schedule, zone

__all__ = ["NO_LIMIT", "Engagement", "Ramp", "Share", "ramp_calendar", "ramp_for", "share_day"]

NO_LIMIT = 10**9  # an allowance this large no longer holds anything back: the ramp is over


@dataclass(frozen=True)
class Ramp:
    """Day index (0 = the domain's first day) -> how many campaign emails it may send.

    >>> [Ramp(100, 1.5).allowance(day) for day in range(5)]
    [100, 150, 225, 337, 506]
    """

    start_per_day: int
    growth: float
    timezone: str = "UTC"  # whose calendar days the ramp counts
    started: date | None = None  # day 0; None = the day of the domain's first send

    def allowance(self, day: int) -> int:
        try:
            value = self.start_per_day * self.growth ** max(day, 0)
        except OverflowError:
            return NO_LIMIT
        return min(math.floor(round(value, 6)), NO_LIMIT)  # 110.00000000000001 is 110

    def describe(self, today: int, sent: bool) -> str:
        """One line for a launch or a rehearsal: where the ramp stands (day `today`; `sent`:
        has the domain sent before) and how it goes on."""
        today = max(today, 0)  # a `started` still ahead: its day 0 applies until then
        if self.allowance(today) >= NO_LIMIT:
            return "warm-up: the sending domain's ramp is over; nothing is held back"
        days = ", ".join(str(self.allowance(day)) for day in range(today, today + 4))
        where = (
            f"day {today} of the sending domain's ramp allows"
            if sent or self.started
            else "the sending domain has not sent yet; from its first day the ramp allows"
        )
        return (
            f"warm-up: {where} {days}... campaign emails a day (x{self.growth:g} a day, every"
            f" campaign together; days in {self.timezone}); the most engaged contacts go first"
        )

    def day_of(self, moment: datetime) -> date:
        """The ramp's calendar day of `moment`."""
        return moment.astimezone(zone(self.timezone)).date()

    def day_index(self, today: date, first_send: date | None) -> int:
        """Days since day 0 (`started`, else the first send, else today: nothing sent yet)."""
        return (today - (self.started or first_send or today)).days

    def day_bounds(self, today: date) -> tuple[datetime, datetime]:
        """When `today` begins and the next day begins, as aware datetimes."""
        tz = zone(self.timezone)
        start = datetime.combine(today, time(), tzinfo=tz)
        return start, datetime.combine(today + timedelta(days=1), time(), tzinfo=tz)


def ramp_for(settings: Settings) -> Ramp | None:
    """The configured ramp (its days counted in the engine's `timezone`), or None: no warm-up."""
    w = settings.warmup
    return Ramp(w.start_per_day, w.growth, settings.timezone, w.started_on) if w.enabled else None


@dataclass(frozen=True, order=True)
class Engagement:
    """What a contact did with the mail we sent before: a reply outweighs any number of clicks,
    a click any number of opens (bots and link scanners are not counted)."""

    replies: int = 0
    clicks: int = 0
    opens: int = 0


@dataclass(frozen=True)
class Share:
    """Today's places: who takes one (due now or later today), and who waits for tomorrow."""

    chosen: frozenset[int]  # enrollment ids
    waiting: dict[int, datetime]  # enrollment id -> the next day's start (not yet its window)


def share_day(
    candidates: Iterable[Candidate],
    engagement: Mapping[int, Engagement],
    room: int,
    day_end: datetime,
) -> Share:
    """Give today's `room` places to the steps due before `day_end`, in the ramp's order
    (follow-ups, engagement keyed by enrollment id, due time, enrollment id); the others wait
    until `day_end`. Steps due later than `day_end` are not today's matter."""
    today = [c for c in candidates if c.next_due_at < day_end]
    ranked = sorted(today, key=lambda c: _rank(c, engagement.get(c.enrollment_id, _NONE)))
    places = max(room, 0)
    return Share(
        frozenset(c.enrollment_id for c in ranked[:places]),
        {c.enrollment_id: day_end for c in ranked[places:]},
    )


_NONE = Engagement()


def _rank(c: Candidate, seen: Engagement) -> tuple[bool, int, int, int, datetime, int]:
    return (c.next_step == 1, -seen.replies, -seen.clicks, -seen.opens, c.next_due_at,
            c.enrollment_id)  # fmt: skip


def ramp_calendar(
    candidates: Iterable[Candidate],
    engagement: Mapping[int, Engagement],
    first_days: Mapping[int, date],
    schedule: Schedule,
    ramp: Ramp,
    first_send: date | None,
    now: datetime,
) -> list[tuple[int, int, datetime]]:
    """(enrollment id, step, when) of every automated email of a campaign launched at `now`,
    day by day as the ramp allows and each next step spaced from when the one before went, as
    if this campaign were the domain's only sender (other campaigns share the days in fact).
    `first_days`: each enrollment's local day of step 1, from which later steps are counted."""
    pending = {c.enrollment_id: c for c in candidates}
    sent: list[tuple[int, int, datetime]] = []
    origin = first_send
    while pending:
        day = ramp.day_of(max(min(c.next_due_at for c in pending.values()), now))
        _, end = ramp.day_bounds(day)
        share = share_day(
            pending.values(), engagement, ramp.allowance(ramp.day_index(day, origin)), end
        )
        for eid in share.chosen:
            c = pending.pop(eid)
            at = schedule.next_opening(max(c.next_due_at, now), c.timezone)
            if at >= end:  # its window has closed for today: it waits, taking no place
                pending[eid] = replace(c, next_due_at=at)
                continue
            sent.append((eid, c.next_step, at))
            origin = origin or day
            following = schedule.next_due_at(c.next_step + 1, at, c.timezone, first_days[eid])
            if following is not None:
                pending[eid] = Candidate(eid, c.next_step + 1, following, c.timezone)
        for eid, until in share.waiting.items():
            c = pending[eid]
            pending[eid] = replace(c, next_due_at=schedule.next_opening(until, c.timezone))
    return sorted(sent, key=lambda s: (s[2], s[0]))
