"""Campaign report numbers from the counts SQL grouped (`report_queries`): PURE (no database, no
clock).

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
- An email and its events count in the group (segment, title, rep) its contact had when it was
  queued, written on the message; enrolled, excluded, touched and SAO contacts in the group they
  have now. Groups are disjoint sets of contacts as long as nobody changed group mid-campaign.
- Sales stages: *touched* contacts got at least one email of the campaign (state `sent`);
  *sao* counts those whose opportunity reached stage 1 (Discovery) or beyond (not Lost) on or
  after their first email; average days per stage come from their stage history (a stage's
  duration is known once the next stage is recorded). The *longest stage* has the highest
  average (the lower stage on a tie); none until an emailed contact has left a stage.
- *By persona*: the persona the campaign's [personas] table gives each contact's title (no
  title: the shipped rule); its open, click, request and SAO rates are of its contacts emailed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import fields
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from campaign_engine.audience.segments import SEGMENTS, PersonaTable, persona_for
from campaign_engine.core.kinds import Channel, MessageOutcome
from campaign_engine.reporting.report_model import (
    Audience,
    CampaignReport,
    CampaignRow,
    DayCount,
    Engagement,
    Figures,
    Group,
    OfferFigures,
    Outcome,
    PersonaReport,
    RepFigures,
    Report,
    ReportCounts,
    RoleReport,
    SegmentReport,
    StageFigures,
    StageRow,
    StepReport,
)
from campaign_engine.reporting.stages import LOST_STAGE, SAO_STAGE, STAGES
from campaign_engine.reps.digest_content import plain_url

__all__ = ["compute_report"]

MAX_DAYS = 366  # the daily series never spans more than a year
_SENT = (MessageOutcome.DELIVERED, MessageOutcome.BOUNCED, MessageOutcome.BOUNCED_LATER)
_BOUNCED = (MessageOutcome.BOUNCED, MessageOutcome.BOUNCED_LATER)


def compute_report(counts: ReportCounts, generated_at: datetime) -> Report:
    """Every campaign's report, in the order given."""
    return Report(
        generated_at=generated_at.isoformat(),
        campaigns=[_campaign(counts, campaign) for campaign in counts.campaigns],
    )


def _campaign(counts: ReportCounts, campaign: CampaignRow) -> CampaignReport:
    audience = [a for a in counts.audience if a.campaign_id == campaign.id]
    outcomes = [o for o in counts.outcomes if o.campaign_id == campaign.id]
    engaged = {r.group: r.engagement for r in counts.by_group if r.campaign_id == campaign.id}
    enrolled = sum(a.enrolled for a in audience)

    def slice_of(groups: set[Group] | None) -> Figures:
        def wanted(group: Group) -> bool:
            return groups is None or group in groups

        return _figures(
            enrolled=sum(a.enrolled for a in audience if wanted(a.group)),
            excluded=sum(a.excluded for a in audience if wanted(a.group)),
            outcomes=_outcome_counts(o for o in outcomes if wanted(o.group)),
            engagement=_sum(e for group, e in engaged.items() if wanted(group)),
        )

    by_step = {r.step: r.engagement for r in counts.by_step if r.campaign_id == campaign.id}
    steps = []
    for step in campaign.sequence.steps:
        of_step = _outcome_counts(o for o in outcomes if o.step == step.number)
        figures = _figures(enrolled, 0, of_step, by_step.get(step.number, Engagement()))
        figures.excluded = of_step[MessageOutcome.EXCLUDED]
        steps.append(StepReport(step.number, step.subject, step.day, figures))
    # A group may have sent mail and no enrolled contact left (the contacts' title, segment or
    # rep changed since: messages are counted as they were sent).
    groups = {a.group for a in audience} | {o.group for o in outcomes} | set(engaged)
    present = {g.segment for g in groups}
    segments = [
        SegmentReport(name, slice_of({g for g in groups if g.segment == name}))
        for name in [*SEGMENTS, *sorted(present - set(SEGMENTS))]
        if name in present
    ]
    history, sao = _sao([s for s in counts.stages if s.campaign_id == campaign.id])
    stages = _stages(history)
    return CampaignReport(
        name=campaign.name,
        sequence=campaign.sequence.key,
        start_date=campaign.start_date.isoformat(),
        timezone=campaign.timezone,
        totals=slice_of(None),
        steps=steps,
        segments=segments,
        offers=_offers(counts, campaign, outcomes),
        reps=_reps(counts, campaign, audience, outcomes, engaged, sao),
        daily=_daily(counts, campaign),
        touched=sum(a.touched for a in audience),
        sao=len(sao),
        stages=stages,
        personas=[
            PersonaReport(persona=name, **_title_slice(members, audience, slice_of(members), sao))
            for name, members in _by_title(
                campaign.sequence.personas, groups, lambda g: _persona(g, campaign)
            )
        ],
        roles=[
            RoleReport(role=name, **_title_slice(members, audience, slice_of(members), sao))
            for name, members in _by_title(
                campaign.sequence.roles, groups, lambda g: campaign.sequence.role_for(g.title)
            )
        ],
        longest_stage=max(
            (s for s in stages if s.average_days is not None),
            key=lambda s: s.average_days or 0.0,
            default=None,
        ),
        sent_per_local_day=dict(counts.sent_per_local_day.get(campaign.id, {})),
    )


def _by_title(
    table: PersonaTable, groups: set[Group], label: Callable[[Group], str]
) -> list[tuple[str, set[Group]]]:
    """The groups of each label `table` gives their titles, in the table's order."""
    members: dict[str, set[Group]] = defaultdict(set)
    for group in groups:
        members[label(group)].add(group)
    order = [*(rule.persona for rule in table.rules), table.default, *sorted(members)]
    return [(name, members[name]) for name in dict.fromkeys(order) if name in members]


def _title_slice(members: set[Group], audience: list[Audience], figures: Figures,
                 sao: dict[int, Group]) -> dict[str, Any]:  # fmt: skip
    emailed = sum(a.touched for a in audience if a.group in members)
    converted = sum(1 for group in sao.values() if group in members)
    return {
        "titles": len({g.title for g in members}),
        "emailed": emailed,
        "figures": figures,
        "sao": converted,
        "open_rate": _rate(figures.opens_unique, emailed),
        "click_rate": _rate(figures.clicks_unique, emailed),
        "request_rate": _rate(figures.contact_requests, emailed),
        "sao_rate": _rate(converted, emailed),
    }


def _outcome_counts(outcomes: Iterable[Outcome]) -> Counter[str]:
    found: Counter[str] = Counter()
    for o in outcomes:
        found[o.outcome] += o.messages
    return found


def _sum(engagements: Iterable[Engagement]) -> Engagement:
    """Engagement of disjoint sets of contacts added up (distinct contacts add up too)."""
    total: Counter[str] = Counter()
    for e in engagements:
        for f in fields(Engagement):
            total[f.name] += getattr(e, f.name)
    return Engagement(**total)


def _figures(
    enrolled: int, excluded: int, outcomes: Counter[str], engagement: Engagement
) -> Figures:
    e = engagement
    sent = sum(outcomes[o] for o in _SENT)
    bounced = sum(outcomes[o] for o in _BOUNCED)
    return Figures(
        enrolled=enrolled,
        sent=sent,
        delivered=sent - bounced,
        bounced=bounced,
        opens_unique=e.openers,
        opens_total=e.opens_total,
        apple_opens=e.apple_opens,
        clicks_unique=e.clickers,
        clicks_total=e.clicks_total,
        ctor=_rate(e.clickers, e.openers),
        contact_page_visits=e.contact_page_visits,
        contact_requests=e.requesters,
        unsubscribes=e.unsubscribers,
        excluded=excluded,
        replies=e.repliers,
        auto_replies=e.auto_repliers,
        complaints=e.complainers,
        scanner_opens=e.scanner_opens,
        scanner_clicks=e.scanner_clicks,
    )


def _persona(group: Group, campaign: CampaignRow) -> str:
    """The persona the campaign's own [personas] table gives the group's title (the shipped
    rule for contacts without a title)."""
    if not group.title:
        return persona_for("")
    return persona_for(group.title, campaign.sequence.personas)


def _offers(
    counts: ReportCounts, campaign: CampaignRow, outcomes: list[Outcome]
) -> list[OfferFigures]:
    result = []
    clicks = [c for c in counts.offer_clicks if c.campaign_id == campaign.id]
    for step in campaign.sequence.steps:
        offered: Counter[str] = Counter()
        for o in outcomes:
            offer = step.offer_for(_persona(o.group, campaign))
            if offer and o.step == step.number and o.outcome == MessageOutcome.DELIVERED:
                offered[offer.name] += o.messages
        clicked = {c.name: c for c in clicks if c.step == step.number}
        urls = {c.name: c.url for c in clicked.values()} | {o.name: o.url for o in step.offers}
        names = [o.name for o in step.offers] + sorted(set(clicked) - {o.name for o in step.offers})
        personas = {o.name: o.persona for o in step.offers}
        for name in names:
            unique = clicked[name].clicks_unique if name in clicked else 0
            result.append(
                OfferFigures(
                    step=step.number,
                    name=name,
                    url=plain_url(urls[name]) if urls.get(name) else "",
                    persona=personas.get(name, ""),
                    offered=offered[name],
                    clicks_unique=unique,
                    clicks_total=clicked[name].clicks_total if name in clicked else 0,
                    click_rate=_rate(unique, offered[name]),
                )
            )
    return result


def _reps(
    counts: ReportCounts,
    campaign: CampaignRow,
    audience: list[Audience],
    outcomes: list[Outcome],
    engaged: dict[Group, Engagement],
    sao: dict[int, Group],
) -> list[RepFigures]:
    reps = {r.id: r for r in counts.reps}
    contacts: Counter[int | None] = Counter()
    for a in audience:
        contacts[a.group.rep_id] += a.enrolled
    drafts: Counter[int | None] = Counter()
    for o in outcomes:
        if o.origin == Channel.REP and o.outcome in _SENT:
            drafts[o.group.rep_id] += o.messages
    requests: Counter[int | None] = Counter()
    for group, e in engaged.items():
        requests[group.rep_id] += e.requesters
    sao_of: Counter[int | None] = Counter(group.rep_id for group in sao.values())

    def email(rep_id: int | None) -> str:
        rep = reps.get(rep_id) if rep_id is not None else None
        return rep.email if rep else ""

    rows = []
    # reps with enrolled contacts, and those whose contacts had mail or asked before moving on
    shown = set(contacts) | {r for r, n in (drafts + requests).items() if n}
    for rep_id in sorted(shown, key=lambda r: (r is None, email(r))):
        rep = reps.get(rep_id) if rep_id is not None else None
        rows.append(
            RepFigures(
                rep=rep.email if rep else "",
                name=rep.name if rep else "(no rep)",
                contacts=contacts[rep_id],
                drafts_sent=drafts[rep_id],
                reminders_pending=counts.reminders.get((campaign.id, rep_id), 0)
                if rep_id is not None
                else 0,
                requests_received=requests[rep_id],
                sao=sao_of[rep_id],
            )
        )
    return rows


def _daily(counts: ReportCounts, campaign: CampaignRow) -> list[DayCount]:
    found = {d.day: d for d in counts.days if d.campaign_id == campaign.id}
    if not found:
        return []
    first = min(min(found), campaign.start_date)
    last = min(max(found), first + timedelta(days=MAX_DAYS - 1))
    days = []
    day = first
    while day <= last:
        d = found.get(day)
        days.append(
            DayCount(day.isoformat(), d.opens, d.clicks, d.requests)
            if d
            else DayCount(day.isoformat(), 0, 0, 0)
        )
        day += timedelta(days=1)
    return days


def _sao(stages: list[StageRow]) -> tuple[dict[int, list[StageRow]], dict[int, Group]]:
    """Each emailed contact's stage history (by day, then stage), and the contacts that became
    an SAO on or after their first email (with their group)."""
    history: dict[int, list[StageRow]] = defaultdict(list)
    for row in sorted(stages, key=lambda s: (s.changed_on, s.stage)):
        history[row.contact_id].append(row)
    sao = {
        contact_id: rows[0].group
        for contact_id, rows in history.items()
        if any(SAO_STAGE <= s.stage < LOST_STAGE and s.changed_on >= s.first_sent for s in rows)
    }
    return history, sao


def _stages(history: dict[int, list[StageRow]]) -> list[StageFigures]:
    reached: Counter[int] = Counter()
    current: Counter[int] = Counter()
    durations: dict[int, list[int]] = defaultdict(list)
    for rows in history.values():
        for stage in {s.stage for s in rows}:
            reached[stage] += 1
        current[rows[-1].stage] += 1
        entered = [h for i, h in enumerate(rows) if i == 0 or rows[i - 1].stage != h.stage]
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


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
