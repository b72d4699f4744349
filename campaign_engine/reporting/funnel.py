"""Campaign report numbers from plain rows: PURE (no database, no clock).

Definitions (the README's "Reports" section says the same for ops):

- *sent*: messages handed to the relay (state `sent` or `bounced`); *bounced*: of those, the ones
  the relay refused (state `bounced`) or that bounced later (a `bounce` event); *delivered* =
  sent - bounced.
- Engagement counts only *human* events. Apple Mail Privacy Protection loads every pixel
  (`bot_reason` "apple_privacy"): those opens are counted apart (`apple_opens`), and so is
  scanner traffic (any other `is_human` false event: `scanner_opens`, `scanner_clicks`).
- *opens_unique*: contacts who opened or clicked (a click implies the open, even when images were
  blocked); *opens_total*: human pixel loads. *clicks_unique* / *clicks_total* likewise.
  *ctor* (click-to-open rate) = clicks_unique / opens_unique, None when nobody opened.
- *contact_requests* and *unsubscribes* are contacts; unsubscribes and bounces count whatever
  `is_human` says (the address is out either way). *replies*, *auto_replies* and *complaints*
  are contacts too, from the reply mailbox (`reply`, `auto_reply`, `complaint` events; a
  reply is also a contact request).
- *excluded*: for a campaign or segment, enrolled contacts under an active exclusion; for a step,
  that step's messages skipped because of an exclusion.
- Events without a message (not tied to an email) are not attributed to any campaign.
- Sales stages: *touched* contacts got at least one email of the campaign (state `sent`);
  *sao* counts those whose opportunity reached stage 1 (Discovery) or beyond (not Lost) on or
  after their first email; average days per stage come from their stage history (a stage's
  duration is known once the next stage is recorded).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from campaign_engine.audience.segments import persona_for
from campaign_engine.core.kinds import EventKind, MessageState
from campaign_engine.reporting.report_model import (
    CampaignReport,
    CampaignRow,
    ContactRow,
    DayCount,
    EventRow,
    Figures,
    MessageRow,
    OfferFigures,
    RepFigures,
    Report,
    ReportData,
    SegmentReport,
    StageFigures,
    StageRow,
    StepReport,
)
from campaign_engine.reporting.stages import LOST_STAGE, SAO_STAGE, STAGES
from campaign_engine.reps.digest_content import offer_for_click, plain_url

__all__ = ["APPLE_PRIVACY", "compute_report"]

APPLE_PRIVACY = "apple_privacy"  # Event.bot_reason of Apple Mail Privacy Protection pixel loads
SEGMENTS = ("SMB", "MM", "ENT")
MAX_DAYS = 366  # the daily series never spans more than a year
_SENT = (MessageState.SENT, MessageState.BOUNCED)
_MAILBOX = (EventKind.REPLY, EventKind.AUTO_REPLY, EventKind.COMPLAINT)  # from the reply mailbox


def compute_report(data: ReportData, generated_at: datetime) -> Report:
    """Every campaign's report, in the order given."""
    index = _Index(data)
    return Report(
        generated_at=generated_at.isoformat(),
        campaigns=[_campaign(index, campaign) for campaign in data.campaigns],
    )


# --- computation ----------------------------------------------------------------------------


class _Index:
    """The rows grouped the ways the report reads them."""

    def __init__(self, data: ReportData) -> None:
        self.data = data
        self.contacts = {c.id: c for c in data.contacts}
        self.reps = {r.id: r for r in data.reps}
        self.enrolled: dict[int, list[int]] = defaultdict(list)
        for enrollment in data.enrollments:
            self.enrolled[enrollment.campaign_id].append(enrollment.contact_id)
        self.messages: dict[int, list[MessageRow]] = defaultdict(list)
        self.message_by_id = {m.id: m for m in data.messages}
        for message in data.messages:
            self.messages[message.campaign_id].append(message)
        self.events: dict[int, list[EventRow]] = defaultdict(list)
        for event in sorted(data.events, key=lambda e: (e.occurred_at, e.id)):
            if event.message_id is not None and event.message_id in self.message_by_id:
                self.events[event.message_id].append(event)
        self.stages: dict[int, list[StageRow]] = defaultdict(list)
        for row in sorted(data.stages, key=lambda s: (s.changed_on, s.stage)):
            self.stages[row.contact_id].append(row)


def _campaign(index: _Index, campaign: CampaignRow) -> CampaignReport:
    messages = index.messages[campaign.id]
    enrolled = index.enrolled[campaign.id]
    excluded = {
        contact_id
        for contact_id in enrolled
        if contact_id in index.contacts
        and any(
            rule.matches(index.contacts[contact_id].email, campaign.id)
            for rule in index.data.exclusions
        )
    }
    totals = _figures(index, messages, enrolled, excluded)
    steps = []
    for step in campaign.sequence.steps:
        of_step = [m for m in messages if m.step == step.number]
        figures = _figures(index, of_step, enrolled, set())
        figures.excluded = sum(
            1
            for m in of_step
            if m.state == MessageState.SKIPPED and (m.skip_reason or "").startswith("excluded")
        )
        steps.append(StepReport(step.number, step.subject, step.day, figures))
    segments = []
    present = {index.contacts[c].segment for c in enrolled if c in index.contacts}
    for segment in [*SEGMENTS, *sorted(present - set(SEGMENTS))]:
        members = {
            c for c in enrolled if c in index.contacts and index.contacts[c].segment == segment
        }
        if not members:
            continue
        in_segment = [m for m in messages if m.contact_id in members]
        segments.append(
            SegmentReport(segment, _figures(index, in_segment, members, excluded & members))
        )
    touched, sao_contacts = _touched(index, messages)
    return CampaignReport(
        name=campaign.name,
        sequence=campaign.sequence.key,
        start_date=campaign.start_date.isoformat(),
        timezone=campaign.timezone,
        totals=totals,
        steps=steps,
        segments=segments,
        offers=_offers(index, campaign, messages),
        reps=_reps(index, campaign, messages, enrolled, sao_contacts),
        daily=_daily(index, campaign, messages),
        touched=len(touched),
        sao=len(sao_contacts),
        stages=_stages(index, touched),
    )


def _figures(
    index: _Index, messages: list[MessageRow], enrolled: Iterable[int], excluded: set[int]
) -> Figures:
    f = Figures(enrolled=len(set(enrolled)), excluded=len(excluded))
    openers: set[int] = set()
    clickers: set[int] = set()
    requesters: set[int] = set()
    unsubscribers: set[int] = set()
    mailbox: dict[str, set[int]] = {kind: set() for kind in _MAILBOX}
    for message in messages:
        events = index.events.get(message.id, [])
        if message.state in _SENT:
            f.sent += 1
            f.bounced += _bounced(index, message)
        for event in events:
            kind, who = event.kind, message.contact_id
            if kind in _MAILBOX:
                mailbox[kind].add(who)
            elif kind == EventKind.UNSUBSCRIBE:
                unsubscribers.add(who)
            elif not event.is_human:
                apple = event.bot_reason == APPLE_PRIVACY
                f.apple_opens += apple and kind == EventKind.OPEN
                f.scanner_opens += not apple and kind == EventKind.OPEN
                f.scanner_clicks += not apple and kind == EventKind.CLICK
            elif kind == EventKind.OPEN:
                f.opens_total += 1
                openers.add(who)
            elif kind == EventKind.CLICK:
                f.clicks_total += 1
                clickers.add(who)
                openers.add(who)
            elif kind == EventKind.CONTACT_PAGE:
                f.contact_page_visits += 1
            elif kind == EventKind.CONTACT_REQUEST:
                requesters.add(who)
    f.delivered = f.sent - f.bounced
    f.opens_unique, f.clicks_unique = len(openers), len(clickers)
    f.ctor = _rate(f.clicks_unique, f.opens_unique)
    f.contact_requests, f.unsubscribes = len(requesters), len(unsubscribers)
    f.replies = len(mailbox[EventKind.REPLY])
    f.auto_replies = len(mailbox[EventKind.AUTO_REPLY])
    f.complaints = len(mailbox[EventKind.COMPLAINT])
    return f


def _persona(contact: ContactRow, campaign: CampaignRow) -> str:
    """The persona the campaign's own [personas] table gives the contact's title."""
    if not contact.title:
        return contact.persona
    return persona_for(contact.title, campaign.sequence.personas)


def _offers(index: _Index, campaign: CampaignRow, messages: list[MessageRow]) -> list[OfferFigures]:
    result = []
    for step in campaign.sequence.steps:
        links = list(campaign.links.get(step.number, []))
        of_step = [m for m in messages if m.step == step.number]
        offered: Counter[str] = Counter()
        for message in of_step:
            contact = index.contacts.get(message.contact_id)
            offer = step.offer_for(_persona(contact, campaign) if contact else "")
            if offer and message.state == MessageState.SENT and not _bounced(index, message):
                offered[offer.name] += 1
        clickers: dict[str, set[int]] = defaultdict(set)
        clicks: Counter[str] = Counter()
        urls: dict[str, str] = {}
        for message in of_step:
            for event in index.events.get(message.id, []):
                if event.kind != EventKind.CLICK or not event.is_human:
                    continue
                offer = offer_for_click(step, links, event.link_index, event.url)
                clickers[offer.name].add(message.contact_id)
                clicks[offer.name] += 1
                urls.setdefault(offer.name, offer.url)
        names = [o.name for o in step.offers] + sorted(set(clicks) - {o.name for o in step.offers})
        personas = {o.name: o.persona for o in step.offers}
        for offer in step.offers:
            urls[offer.name] = offer.url
        for name in names:
            unique = len(clickers[name])
            result.append(
                OfferFigures(
                    step=step.number,
                    name=name,
                    url=plain_url(urls[name]) if urls.get(name) else "",
                    persona=personas.get(name, ""),
                    offered=offered[name],
                    clicks_unique=unique,
                    clicks_total=clicks[name],
                    click_rate=_rate(unique, offered[name]),
                )
            )
    return result


def _reps(
    index: _Index,
    campaign: CampaignRow,
    messages: list[MessageRow],
    enrolled: list[int],
    sao_contacts: set[int],
) -> list[RepFigures]:
    def rep_of(contact_id: int) -> int | None:
        contact = index.contacts.get(contact_id)
        return contact.rep_id if contact else None

    contacts: Counter[int | None] = Counter(rep_of(c) for c in set(enrolled))
    drafts: Counter[int | None] = Counter()
    requesters: dict[int | None, set[int]] = defaultdict(set)
    for message in messages:
        rep_id = rep_of(message.contact_id)
        drafts[rep_id] += message.origin == "rep" and message.state in _SENT
        for event in index.events.get(message.id, []):
            if event.kind == EventKind.CONTACT_REQUEST and event.is_human:
                requesters[rep_id].add(message.contact_id)
    sao: Counter[int | None] = Counter(rep_of(c) for c in sao_contacts)
    rows = []
    for rep_id in sorted(contacts, key=lambda r: (r is None, _rep_email(index, r))):
        rep = index.reps.get(rep_id) if rep_id is not None else None
        rows.append(
            RepFigures(
                rep=rep.email if rep else "",
                name=rep.name if rep else "(no rep)",
                contacts=contacts[rep_id],
                drafts_sent=drafts[rep_id],
                reminders_pending=index.data.reminders.get((campaign.id, rep_id), 0)
                if rep_id is not None
                else 0,
                requests_received=len(requesters[rep_id]),
                sao=sao[rep_id],
            )
        )
    return rows


def _daily(index: _Index, campaign: CampaignRow, messages: list[MessageRow]) -> list[DayCount]:
    zone = ZoneInfo(campaign.timezone)
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    for message in messages:
        for event in index.events.get(message.id, []):
            if event.is_human and event.kind in (
                EventKind.OPEN,
                EventKind.CLICK,
                EventKind.CONTACT_REQUEST,
            ):
                counts[event.occurred_at.astimezone(zone).date()][event.kind] += 1
    if not counts:
        return []
    first = min(min(counts), campaign.start_date)
    last = min(max(counts), first + timedelta(days=MAX_DAYS - 1))
    days = []
    day = first
    while day <= last:
        c = counts.get(day, Counter())
        days.append(
            DayCount(
                day.isoformat(),
                c[EventKind.OPEN],
                c[EventKind.CLICK],
                c[EventKind.CONTACT_REQUEST],
            )
        )
        day += timedelta(days=1)
    return days


def _touched(index: _Index, messages: list[MessageRow]) -> tuple[set[int], set[int]]:
    """Contacts the campaign emailed, and those of them who became an SAO after the first email."""
    first: dict[int, date] = {}
    for message in messages:
        if message.state == MessageState.SENT and message.sent_at is not None:
            day = message.sent_at.date()
            first[message.contact_id] = min(day, first.get(message.contact_id, day))
    sao = {
        contact_id
        for contact_id, since in first.items()
        if any(
            SAO_STAGE <= s.stage < LOST_STAGE and s.changed_on >= since
            for s in index.stages.get(contact_id, [])
        )
    }
    return set(first), sao


def _stages(index: _Index, touched: set[int]) -> list[StageFigures]:
    reached: Counter[int] = Counter()
    current: Counter[int] = Counter()
    durations: dict[int, list[int]] = defaultdict(list)
    for contact_id in touched:
        history = index.stages.get(contact_id, [])
        if not history:
            continue
        for stage in {s.stage for s in history}:
            reached[stage] += 1
        current[history[-1].stage] += 1
        entered = [h for i, h in enumerate(history) if i == 0 or history[i - 1].stage != h.stage]
        for this, following in pairwise(entered):
            durations[this.stage].append((following.changed_on - this.changed_on).days)
    return [
        StageFigures(
            stage=number,
            name=name,
            reached=reached[number],
            current=current[number],
            average_days=round(sum(durations[number]) / len(durations[number]), 1)
            if durations[number]
            else None,
        )
        for number, name in enumerate(STAGES)
    ]


def _bounced(index: _Index, message: MessageRow) -> bool:
    return message.state == MessageState.BOUNCED or any(
        e.kind == EventKind.BOUNCE for e in index.events.get(message.id, [])
    )


def _rep_email(index: _Index, rep_id: int | None) -> str:
    rep = index.reps.get(rep_id) if rep_id is not None else None
    return rep.email if rep else ""


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
