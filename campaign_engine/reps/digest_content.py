"""What a rep's engagement digest says, built from plain data: PURE (no database, no clock).

One entry per contact: who they are, what they did (most valuable first), and the next step.
Entries are ordered by their most valuable activity (contact request > contact page visit >
click > open > unsubscribe > bounce), then by how recent it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from campaign_engine.audience.segments import persona_for, role_for
from campaign_engine.core.kinds import EventKind
from campaign_engine.reps.request_note import RequestNote, parse_note
from campaign_engine.sending.meeting_guides import MeetingGuide
from campaign_engine.sending.sequences import Offer, Sequence, Step

__all__ = [
    "RANK",
    "Activity",
    "CampaignInfo",
    "DigestEntry",
    "EngagementFact",
    "build_entries",
    "next_step_for",
    "offer_for_click",
    "plain_url",
]

# Lower is more valuable; the order the rep should act in.
RANK: dict[str, int] = {
    EventKind.CONTACT_REQUEST: 0,
    EventKind.CONTACT_PAGE: 1,
    EventKind.CLICK: 2,
    EventKind.OPEN: 3,
    EventKind.UNSUBSCRIBE: 4,
    EventKind.BOUNCE: 5,
    EventKind.AUTO_REPLY: 6,  # an out-of-office: when to call, not interest
}
LABELS: dict[str, str] = {
    EventKind.CONTACT_REQUEST: "Asked to be contacted",
    EventKind.CONTACT_PAGE: "Visited the contact page without sending the request",
    EventKind.CLICK: "Clicked",
    EventKind.OPEN: "Opened",
    EventKind.UNSUBSCRIBE: "Unsubscribed",
    EventKind.BOUNCE: "Email bounced",
    EventKind.AUTO_REPLY: "Out of office",
}


@dataclass(frozen=True)
class CampaignInfo:
    """The frozen sequence of a campaign and the URLs each step's emails link to (by index)."""

    name: str
    sequence: Sequence
    links: Mapping[int, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class EngagementFact:
    """One human event, joined with its contact and the email it came from."""

    event_id: int
    kind: str
    occurred_at: datetime
    contact_email: str
    first_name: str
    last_name: str
    title: str
    account: str
    segment: str
    campaign_id: int | None = None
    step: int | None = None
    channel: str | None = None  # the message's origin: automated or rep
    link_index: int | None = None
    url: str | None = None
    note: str | None = None
    contact_id: int | None = None


@dataclass(frozen=True)
class Activity:
    """What a contact did with one email (repeats of the same thing are counted, not listed)."""

    kind: str
    label: str
    campaign: str
    step: int | None
    subject: str
    offer_name: str
    offer_url: str
    said: RequestNote | None  # a contact request's fields: their words, preferred time, source
    last_at: datetime
    count: int
    meeting: str = "a first meeting"  # the step's meeting: what to run after this email
    guide: MeetingGuide | None = None  # the play's guide for that meeting
    next_email: str = ""  # 'email 2 “Subject”' when the sequence has one after this step
    channel: str = ""

    @property
    def email(self) -> str:
        """'Email 2 “Subject”', or '' when the event is not tied to an email."""
        return f"Email {self.step} “{self.subject}”" if self.step else ""


@dataclass(frozen=True)
class DigestEntry:
    """One contact in the digest: who, what they did, and what the rep should do next."""

    name: str
    email: str
    title: str
    persona: str
    role: str  # economic buyer, technical influencer or other (the sequence's [roles] table)
    account: str
    segment: str
    activities: tuple[Activity, ...]
    next_step: str
    contact_id: int | None = None  # for the link to the contact in the web app

    @property
    def top(self) -> Activity:
        return self.activities[0]


def build_entries(
    facts: Iterable[EngagementFact], campaigns: Mapping[int, CampaignInfo]
) -> list[DigestEntry]:
    """Group facts by contact, fold repeats, order by value then recency."""
    by_contact: dict[str, list[EngagementFact]] = {}
    for fact in facts:
        by_contact.setdefault(fact.contact_email, []).append(fact)
    entries = [_entry(group, campaigns) for group in by_contact.values()]
    entries = [e for e in entries if e.activities]
    entries.sort(key=lambda e: (RANK[e.top.kind], -e.top.last_at.timestamp(), e.name, e.email))
    return entries


def offer_for_click(step: Step, links: list[str], link_index: int | None, url: str | None) -> Offer:
    """The offer a click went to: by URL (event's, else the step's link at link_index)."""
    target = url or (
        links[link_index] if link_index is not None and 0 <= link_index < len(links) else ""
    )
    for offer in step.offers:
        if offer.url == target:
            return offer
    for offer in step.offers:  # the same page, whatever the query string says
        if _page(offer.url) == _page(target) and target:
            return offer
    return Offer(name=_link_label(target), url=target)


def plain_url(url: str) -> str:
    """The URL without utm_* parameters, so a rep's own click does not count as campaign traffic.

    >>> plain_url("https://x.example/a?x=1&utm_source=gmail&utm_medium=email")
    'https://x.example/a?x=1'
    """
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.startswith("utm_")
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def next_step_for(activities: tuple[Activity, ...]) -> str:
    """The one thing the rep should do next about this contact (activities most valuable first)."""
    by_kind = {a.kind: a for a in reversed(activities)}  # the most recent of each kind wins
    top = activities[0]
    if EventKind.CONTACT_REQUEST in by_kind:
        return f"Reply today and run {by_kind[EventKind.CONTACT_REQUEST].meeting}."
    if EventKind.UNSUBSCRIBE in by_kind:
        return "Do not email them again: they unsubscribed."
    if EventKind.BOUNCE in by_kind:
        return "Find a working address or another contact at the account: the email bounced."
    if top.kind == EventKind.AUTO_REPLY:
        return "They are away: follow up once they are back (their auto-reply says when)."
    if top.kind == EventKind.CONTACT_PAGE:
        return (
            "Reach out personally: they opened the contact page but did not send it. "
            f"Offer {top.meeting}."
        )
    if top.next_email and top.channel == "automated":
        return f"{top.next_email[:1].upper()}{top.next_email[1:]} goes out automatically; call while the offer is fresh."
    if top.next_email:
        return f"Send {top.next_email}."
    return f"Sequence finished: follow up personally and offer {top.meeting}."


def _sequence(
    facts: list[EngagementFact], campaigns: Mapping[int, CampaignInfo]
) -> Sequence | None:
    """The sequence of the latest campaign the contact engaged with, if it is known."""
    for fact in sorted(facts, key=lambda f: f.occurred_at, reverse=True):
        info = campaigns.get(fact.campaign_id) if fact.campaign_id is not None else None
        if info is not None:
            return info.sequence
    return None


def _entry(facts: list[EngagementFact], campaigns: Mapping[int, CampaignInfo]) -> DigestEntry:
    first = facts[0]
    # A contact-page visit followed by a request is the request, not an abandoned visit.
    requested = {(f.campaign_id, f.step) for f in facts if f.kind == EventKind.CONTACT_REQUEST}
    clicked = {(f.campaign_id, f.step) for f in facts if f.kind == EventKind.CLICK}
    groups: dict[tuple[object, ...], list[EngagementFact]] = {}
    offers: dict[tuple[object, ...], Offer | None] = {}
    for fact in facts:
        where = (fact.campaign_id, fact.step)
        if fact.kind == EventKind.CONTACT_PAGE and where in requested:
            continue
        if fact.kind == EventKind.OPEN and where in clicked:
            continue  # a click says more than the open it implies
        offer = _offer(fact, campaigns) if fact.kind == EventKind.CLICK else None
        key = (fact.kind, fact.campaign_id, fact.step, offer.name if offer else "")
        groups.setdefault(key, []).append(fact)
        offers[key] = offer
    activities = sorted(
        (_activity(group, offers[key], campaigns) for key, group in groups.items()),
        key=lambda a: (RANK[a.kind], -a.last_at.timestamp()),
    )
    sequence = _sequence(facts, campaigns)
    return DigestEntry(
        name=" ".join(f"{first.first_name} {first.last_name}".split()) or first.contact_email,
        email=first.contact_email,
        title=" ".join(first.title.split()),
        persona=persona_for(first.title, sequence.personas if sequence else None),
        role=role_for(first.title, sequence.roles if sequence else None),
        account=first.account,
        segment=first.segment,
        activities=tuple(activities),
        next_step=next_step_for(tuple(activities)) if activities else "",
        contact_id=first.contact_id,
    )


def _activity(
    facts: list[EngagementFact], offer: Offer | None, campaigns: Mapping[int, CampaignInfo]
) -> Activity:
    latest = max(facts, key=lambda f: f.occurred_at)
    info = campaigns.get(latest.campaign_id) if latest.campaign_id is not None else None
    steps = info.sequence.steps if info else ()
    step = steps[latest.step - 1] if latest.step and latest.step <= len(steps) else None
    following = steps[latest.step] if step and latest.step and latest.step < len(steps) else None
    notes = [f.note for f in sorted(facts, key=lambda f: f.occurred_at) if f.note]
    label = LABELS.get(latest.kind, latest.kind)
    if latest.kind == EventKind.AUTO_REPLY and notes:
        label = f"{label} ({notes[-1]})"  # the return date the auto-reply stated
    return Activity(
        kind=latest.kind,
        label=label,
        campaign=info.name if info else "",
        step=latest.step,
        subject=step.subject if step else "",
        offer_name=offer.name if offer else "",
        offer_url=plain_url(offer.url) if offer and offer.url else "",
        said=parse_note(notes[-1]) if notes and latest.kind == EventKind.CONTACT_REQUEST else None,
        last_at=latest.occurred_at,
        count=len(facts),
        meeting=step.meeting if step and step.meeting else "a first meeting",
        guide=step.guide if step else None,
        next_email=f"email {following.number} “{following.subject}”" if following else "",
        channel=latest.channel or "",
    )


def _offer(fact: EngagementFact, campaigns: Mapping[int, CampaignInfo]) -> Offer | None:
    info = campaigns.get(fact.campaign_id) if fact.campaign_id is not None else None
    if info is None or not fact.step or fact.step > len(info.sequence.steps):
        return Offer(name=_link_label(fact.url or ""), url=fact.url or "") if fact.url else None
    step = info.sequence.step(fact.step)
    return offer_for_click(step, list(info.links.get(fact.step, [])), fact.link_index, fact.url)


def _page(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower(), parts.path.rstrip("/")


def _link_label(url: str) -> str:
    """A short readable name for a link that is not an offer: host and path, no query."""
    if not url:
        return "a link"
    parts = urlsplit(url)
    return f"a link to {parts.netloc}{parts.path.rstrip('/')}"
