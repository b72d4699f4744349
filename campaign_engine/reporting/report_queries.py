"""The report's counts, grouped in SQL: a handful of rows per campaign however many messages.

Contacts are grouped by (segment, title, rep): distinct-contact counts per group add up to the
campaign's, a segment's, a persona's (the campaign's [personas] table maps titles, in Python) and
a rep's. Per-email figures are grouped by step. `funnel.compute_report` assembles the report.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import fields
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from campaign_engine.core.kinds import EventKind, MessageOutcome, MessageState
from campaign_engine.reporting import report_model as model
from campaign_engine.reporting.local_days import sends_per_local_day
from campaign_engine.reps.digest_content import offer_for_click
from campaign_engine.store import engagement_counts, message_counts
from campaign_engine.store.models import (
    WITH_REASON,
    Account,
    Campaign,
    Contact,
    Enrollment,
    Event,
    Exclusion,
    Message,
    Rep,
    StageChange,
)
from campaign_engine.store.sql_dates import local_day

__all__ = ["count_report"]


def _columns(table: Any) -> Any:
    """A model's columns as SQL expressions (sqlmodel types the attributes as Python values)."""
    return table.__table__.c


_M = _columns(Message)
_E = _columns(Event)
_C = _columns(Contact)
_A = _columns(Account)
_EN = _columns(Enrollment)
_X = _columns(Exclusion)
_CA = _columns(Campaign)
_S = _columns(StageChange)
_R = _columns(Rep)
_SENT = (MessageState.SENT, MessageState.BOUNCED)
_DELIVERED = MessageOutcome.DELIVERED.value
_GROUP = (_A.segment, _C.title, _A.rep_id)


def count_report(
    session: Session,
    campaigns: tuple[model.CampaignRow, ...],
    now: datetime,
    reminders: Mapping[tuple[int, int], int],
) -> model.ReportCounts:
    """The grouped counts of these campaigns' report, as of `now`."""
    if session.get_bind().dialect.name == "postgresql":
        # This transaction's sorts and hashes stay in memory; compiling the plans (JIT) would
        # cost more than it saves on queries this short.
        session.execute(sa.text("SET LOCAL work_mem = '64MB'"))
        session.execute(sa.text("SET LOCAL jit = off"))
    ids = [c.id for c in campaigns]
    by_group, by_step, offer_clicks, days = _engagement(session, campaigns, now)
    return model.ReportCounts(
        campaigns=campaigns,
        audience=_audience(session, ids),
        outcomes=_outcomes(session, ids),
        by_group=by_group,
        by_step=by_step,
        offer_clicks=offer_clicks,
        days=days,
        stages=_stages(session, ids),
        sent_per_local_day=sends_per_local_day(session, ids),
        reps=tuple(
            model.RepRow(rep_id or 0, email, name)
            for rep_id, email, name in session.execute(sa.select(_R.id, _R.email, _R.name))
        ),
        reminders=reminders,
    )


def _group(segment: str, title: str | None, rep_id: int | None) -> model.Group:
    return model.Group(segment, title or "", rep_id)


def _with_group(query: sa.Select[Any], contact_id: Any) -> sa.Select[Any]:
    return query.join(Contact, _C.id == contact_id).join(Account, _A.id == _C.account_id)


def _email_domain(email: Any) -> Any:
    """What follows the last '@' (the whole address when there is none), as
    `email.rsplit("@", 1)[-1]` says: portable SQL, no regular expressions."""
    return sa.func.substr(
        email, sa.func.length(sa.func.rtrim(email, sa.func.replace(email, "@", ""))) + 1
    )


def _excluded(ids: list[int]) -> Any:
    """True for an enrolment whose address or domain an active exclusion covers (in all
    campaigns, or in the enrolment's own); the rules are paired with each campaign up front so
    the test is a hashed IN, not a scan of the exclusions per contact."""
    campaign = sa.func.coalesce(_X.campaign_id, _CA.id)
    rules = (
        sa.select(_X.email, _X.domain, campaign)
        .join(
            Campaign,
            sa.or_(_X.campaign_id.is_(None), _X.campaign_id == _CA.id),
        )
        .where(_X.removed_at.is_(None), _CA.id.in_(ids))
    )
    emails = rules.with_only_columns(_X.email, campaign).where(_X.email.is_not(None))
    domains = rules.with_only_columns(_X.domain, campaign).where(
        _X.email.is_(None), _X.domain.is_not(None)
    )
    return sa.or_(
        sa.tuple_(_C.email, _EN.campaign_id).in_(emails),
        sa.tuple_(_email_domain(_C.email), _EN.campaign_id).in_(domains),
    )


def _audience(session: Session, ids: list[int]) -> tuple[model.Audience, ...]:
    """Enrolled, excluded and emailed (a message in state sent: `emailed`) contacts per group."""
    query = _with_group(
        sa.select(
            _EN.campaign_id,
            *_GROUP,
            sa.func.count(),
            sa.func.sum(sa.case((_excluded(ids), 1), else_=0)),
            sa.func.sum(sa.case((_EN.emailed == True, 1), else_=0)),  # noqa: E712
        ),
        _EN.contact_id,
    ).where(_EN.campaign_id.in_(ids))
    return tuple(
        model.Audience(campaign_id, _group(segment, title, rep), enrolled, excluded, touched)
        for campaign_id, segment, title, rep, enrolled, excluded, touched in session.execute(
            query.group_by(_EN.campaign_id, *_GROUP)
        )
    )


def _outcomes(session: Session, ids: list[int]) -> tuple[model.Outcome, ...]:
    """Messages per step, group, origin and outcome: the sent and the bounced from the counters,
    less the sent that bounced later (a `bounce` event: few), and the skipped for an exclusion
    (few, indexed)."""
    found: Counter[tuple[int, int, model.Group, str, str]] = Counter()
    for key, n in message_counts.kept_slices(session.connection(), ids, _SENT).items():
        campaign_id, step, state, origin, segment, title, rep_id, _ = key
        outcome = MessageOutcome.BOUNCED.value if state == MessageState.BOUNCED else _DELIVERED
        found[(campaign_id, step, _group(segment, title, rep_id or None), origin, outcome)] += n
    keys = (_M.campaign_id, _M.step, _M.segment, _M.title, _M.rep_id, _M.origin)
    bounced_later = (
        sa.select(*keys, sa.func.count(sa.distinct(_M.id)))
        .select_from(Event)
        .join(Message, _M.id == _E.message_id)
        .where(
            _E.kind == EventKind.BOUNCE,
            _M.campaign_id.in_(ids),
            _M.state == MessageState.SENT,
        )
        .group_by(*keys)
    )
    excluded = (
        sa.select(*keys, sa.func.count())
        .where(
            _M.campaign_id.in_(ids),
            WITH_REASON,
            _M.state == MessageState.SKIPPED,
            sa.func.substr(_M.skip_reason, 1, len("excluded")) == "excluded",
        )
        .group_by(*keys)
    )
    for query, outcome in (
        (bounced_later, MessageOutcome.BOUNCED_LATER.value),
        (excluded, MessageOutcome.EXCLUDED.value),
    ):
        for campaign_id, step, segment, title, rep_id, origin, n in session.execute(query):
            group = _group(segment or "", title, rep_id)
            found[(campaign_id, step, group, origin, outcome)] += n
            if outcome == MessageOutcome.BOUNCED_LATER.value:
                found[(campaign_id, step, group, origin, _DELIVERED)] -= n
    return tuple(
        model.Outcome(campaign_id, step, group, origin, outcome, n)
        for (campaign_id, step, group, origin, outcome), n in found.items()
        if n
    )


def _engagement(
    session: Session, campaigns: tuple[model.CampaignRow, ...], now: datetime
) -> tuple[
    tuple[model.GroupEngagement, ...],
    tuple[model.StepEngagement, ...],
    tuple[model.OfferClicks, ...],
    tuple[model.DayEngagement, ...],
]:
    """Events on the campaigns' messages from their counters (`engagement_counts`): per contact
    group, per step, per offer clicked and per day of the campaign's zone."""
    zones = {c.id: c.timezone for c in campaigns}
    steps: dict[tuple[int, int], Counter[str]] = {}
    groups: dict[tuple[int, model.Group], Counter[str]] = {}
    days: dict[tuple[int, date], Counter[str]] = {}
    links: dict[tuple[int, int], Counter[tuple[str, str]]] = {}
    kept = engagement_counts.kept(session.connection(), list(zones))
    for (campaign_id, step, segment, title, rep_id, day, link, measure), n in kept.items():
        kind, _, mark = measure.partition(":")
        if link:
            links.setdefault((campaign_id, step), Counter())[(measure, link)] += n
        elif day or measure in engagement_counts.TOTALS:
            on = date.fromisoformat(day or local_day(now, zones[campaign_id]))
            days.setdefault((campaign_id, on), Counter())[measure] += n
        if kind != "group":
            steps.setdefault((campaign_id, step), Counter())[mark or kind] += n
        if kind != "step":
            group = (campaign_id, _group(segment, title, rep_id or None))
            groups.setdefault(group, Counter())[mark or kind] += n
    return (
        tuple(
            model.GroupEngagement(c, g, _figures(n)) for (c, g), n in groups.items() if n["events"]
        ),
        tuple(
            model.StepEngagement(c, s, _figures(n)) for (c, s), n in steps.items() if n["events"]
        ),
        _offer_clicks(campaigns, links),
        tuple(
            model.DayEngagement(c, day, n["opens_total"], n["clicks_total"], n["requests"])
            for (c, day), n in sorted(days.items())
            if n["opens_total"] or n["clicks_total"] or n["requests"]
        ),
    )


def _figures(counts: Counter[str]) -> model.Engagement:
    return model.Engagement(**{name: counts[name] for name in _ENGAGEMENT})


_ENGAGEMENT = [f.name for f in fields(model.Engagement)]


def _offer_clicks(
    campaigns: tuple[model.CampaignRow, ...],
    links: dict[tuple[int, int], Counter[tuple[str, str]]],
) -> tuple[model.OfferClicks, ...]:
    """Human clicks per offer of each step (the links clicked named by `offer_for_click`), and
    the contacts whose clicks went to the offer (each message's set of links clicked is
    counted, so a contact who clicked two links of one offer counts once)."""
    found: list[model.OfferClicks] = []
    for campaign in campaigns:
        for step in campaign.sequence.steps:
            counts = links.get((campaign.id, step.number))
            if not counts:
                continue
            registry = list(campaign.links.get(step.number, []))

            def offer(link: list[Any]) -> tuple[str, str]:
                named = offer_for_click(step, registry, link[0], link[1])  # noqa: B023
                return named.name, named.url

            clicks: Counter[tuple[str, str]] = Counter()
            clickers: Counter[tuple[str, str]] = Counter()
            for (measure, clicked), n in counts.items():
                offers = {offer(link) for link in json.loads(clicked)}
                for named in offers:
                    (clicks if measure == "link_clicks" else clickers)[named] += n
            found.extend(
                model.OfferClicks(campaign.id, step.number, name, url, clickers[(name, url)], n)
                for (name, url), n in clicks.items()
                if n
            )
    return tuple(found)


def _stages(session: Session, ids: list[int]) -> tuple[model.StageRow, ...]:
    """The stage history of every contact each campaign emailed, with the first email's time
    (stage changes are few: the sales pipeline, not the mailing)."""
    first = (
        sa.select(sa.func.min(_M.sent_at))
        .where(
            _M.contact_id == _S.contact_id,
            _M.campaign_id == _CA.id,
            _M.state == MessageState.SENT,
        )
        .scalar_subquery()
    )
    rows = _with_group(
        sa.select(
            _CA.id,
            _S.contact_id,
            *_GROUP,
            first.label("first_sent"),
            _S.stage,
            _S.changed_on,
        ).select_from(StageChange),
        _S.contact_id,
    ).join(Campaign, _CA.id.in_(ids))
    history = rows.subquery()
    query = sa.select(history).where(history.c.first_sent.is_not(None))
    return tuple(
        model.StageRow(
            campaign_id,
            contact_id,
            _group(segment, title, rep),
            first_sent.date(),
            stage,
            changed_on,
        )
        for campaign_id, contact_id, segment, title, rep, first_sent, stage, changed_on in (
            session.execute(query)
        )
    )
