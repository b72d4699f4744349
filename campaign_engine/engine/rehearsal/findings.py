"""Reading a finished simulation out of the scratch copy: recipients and their step dates,
the calendar, sample emails and conflicts (overlap, the frequency cap, reps, time zones)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import Channel, EnrollmentStatus, MessageState
from campaign_engine.engine.rehearsal.model import (
    CalendarDay,
    Conflict,
    RecipientPlan,
    StepDate,
    calendar_of,
)
from campaign_engine.sending.planner import zone
from campaign_engine.sending.sequences import Sequence
from campaign_engine.store.models import (
    Account,
    Campaign,
    Contact,
    Draft,
    Enrollment,
    Message,
    Rep,
)

__all__ = [
    "Enrolled",
    "calendar",
    "conflicts",
    "enrolled_contacts",
    "other_campaigns",
    "recipient_plans",
]

_EXAMPLES = 3


@dataclass(frozen=True)
class Enrolled:
    """One contact of the rehearsed campaign, as the findings need it."""

    contact_id: int
    email: str
    first_name: str
    last_name: str
    title: str
    own_zone: str
    account: str
    segment: str
    rep: str
    channel: str
    zone: str


def enrolled_contacts(session: Session, campaign_id: int) -> list[Enrolled]:
    query = (
        sa.select(
            col(Contact.id),
            col(Contact.email),
            col(Contact.first_name),
            col(Contact.last_name),
            col(Contact.title),
            col(Contact.timezone),
            col(Account.name),
            col(Account.segment),
            sa.func.coalesce(Rep.email, ""),
            col(Enrollment.channel),
            col(Enrollment.timezone),
        )
        .join(Contact, col(Contact.id) == Enrollment.contact_id)
        .join(Account, col(Account.id) == Contact.account_id)
        .join(Rep, col(Rep.id) == Account.rep_id, isouter=True)
        .where(col(Enrollment.campaign_id) == campaign_id)
        .order_by(col(Contact.id))
    )
    return [Enrolled(*row) for row in session.connection().execute(query).all()]  # type: ignore[arg-type]  # ids are never None here


def recipient_plans(
    session: Session,
    campaign_id: int,
    people: Seq[Enrolled],
    sequence: Sequence,
    held: dict[int, datetime],
    campaign_zone: str,
) -> list[RecipientPlan]:
    """Each enrolled contact with, per step, when it went out or why it did not."""
    messages: dict[int, dict[int, StepDate]] = defaultdict(dict)
    query = sa.select(
        col(Message.id),
        col(Message.contact_id),
        col(Message.step),
        col(Message.state),
        col(Message.sent_at),
        col(Message.skip_reason),
    ).where(col(Message.campaign_id) == campaign_id)
    zones = {p.contact_id: p.zone for p in people}
    for mid, contact_id, step, state, sent_at, reason in session.connection().execute(query):
        assert mid is not None
        note = f"skipped: {reason}" if state == MessageState.SKIPPED else ""
        if state not in (MessageState.SENT, MessageState.SKIPPED):
            note = f"not sent ({state})"
        if mid in held:
            note = "held by the frequency cap" + (f"; {note}" if note else "")
        local = ""
        if sent_at is not None and state == MessageState.SENT:
            local = sent_at.astimezone(zone(zones[contact_id])).strftime("%Y-%m-%d %H:%M")
        messages[contact_id][step] = StepDate(step, sent_at, local, note)
    drafts = set(
        session.exec(
            select(Draft.contact_id, Draft.step).where(Draft.campaign_id == campaign_id)
        ).all()
    )
    plans = []
    for p in people:
        steps = []
        for number in range(1, len(sequence.steps) + 1):
            found = messages[p.contact_id].get(number)
            if found is None:
                drafted = (p.contact_id, number) in drafts
                found = StepDate(number, note="rep draft" if drafted else "not sent")
            steps.append(found)
        source = "contact" if p.own_zone else ("campaign" if p.zone == campaign_zone else "account")
        plans.append(
            RecipientPlan(
                p.email,
                p.first_name,
                p.last_name,
                p.account,
                p.segment,
                sequence.persona_for(p.title),
                p.channel,
                p.zone,
                source,
                p.rep,
                steps,
            )
        )
    return plans


def calendar(session: Session, campaign_id: int) -> list[CalendarDay]:
    query = (
        select(Message.sent_at, Enrollment.timezone, Message.step)
        .join(Enrollment, col(Enrollment.id) == Message.enrollment_id)
        .where(Message.campaign_id == campaign_id, Message.state == MessageState.SENT)
    )
    return calendar_of((at, tz, step) for at, tz, step in session.exec(query).all() if at)


def other_campaigns(session: Session, campaign_id: int | None) -> Counter[str]:
    """Running campaign name -> its contacts with an active enrollment."""
    query = (
        select(Campaign.name, sa.func.count(sa.distinct(col(Enrollment.contact_id))))
        .join(Campaign, col(Campaign.id) == Enrollment.campaign_id)
        .where(Enrollment.status == EnrollmentStatus.ACTIVE, Enrollment.campaign_id != campaign_id)
        .group_by(Campaign.name)
    )
    return Counter({name: count for name, count in session.exec(query).all()})


def conflicts(
    plans: Seq[RecipientPlan],
    people: Seq[Enrolled],
    overlapping: int,
    allow_overlap: bool,
    running: Counter[str],
    campaign_zone: str,
) -> list[Conflict]:
    """Everything ops should look at before it is real."""
    found: list[Conflict] = []
    if running and (overlapping or allow_overlap):
        names = ", ".join(f"{name!r} ({n})" for name, n in running.most_common())
        found.append(
            Conflict(
                "overlap",
                overlapping or sum(running.values()),
                f"{overlapping} contact(s) active in another running campaign are left out "
                "(--allow-overlap enrols them)"
                if not allow_overlap
                else "contacts also active in another running campaign get both",
                (names,),
            )
        )
    held = [p for p in plans if any(s.note.startswith("held by") for s in p.steps)]
    if held:
        found.append(
            Conflict(
                "frequency cap",
                len(held),
                f"{len(held)} contact(s) held back by the frequency cap (max_marketing_per_week): "
                "their email goes out later than planned",
                tuple(p.email for p in held[:_EXAMPLES]),
            )
        )
    skipped: Counter[str] = Counter(
        s.note.removeprefix("skipped: ") for p in plans for s in p.steps if "skipped" in s.note
    )
    for reason, count in skipped.most_common():
        found.append(Conflict("not sent", count, f"{count} email(s) skipped: {reason}"))
    no_rep = [p for p in people if not p.rep]
    if no_rep:
        rep_channel = sum(1 for p in no_rep if p.channel == Channel.REP)
        found.append(
            Conflict(
                "missing rep",
                len(no_rep),
                f"{len(no_rep)} contact(s) ({rep_channel} on the rep channel) at accounts without "
                "a rep: their drafts and contact requests go to the unassigned list",
                tuple(sorted({p.account for p in no_rep}))[:_EXAMPLES],
            )
        )
    no_zone = [p for p in people if not p.own_zone]
    if no_zone:
        on_campaign = sum(1 for p in no_zone if p.zone == campaign_zone)
        found.append(
            Conflict(
                "no time zone",
                len(no_zone),
                f"{len(no_zone)} contact(s) without a time zone: planned in their account's "
                f"zone, or the campaign's ({campaign_zone}: {on_campaign})",
                tuple(p.email for p in no_zone[:_EXAMPLES]),
            )
        )
    return found
