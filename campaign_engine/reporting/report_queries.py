"""The report's counts, grouped in SQL: a handful of rows per campaign however many messages.

Contacts are grouped by (segment, title, rep): distinct-contact counts per group add up to the
campaign's, a segment's, a persona's (the campaign's [personas] table maps titles, in Python) and
a rep's. Per-email figures are grouped by step. `funnel.compute_report` assembles the report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from campaign_engine.core.kinds import EventKind, MessageOutcome, MessageState
from campaign_engine.reporting import report_model as model
from campaign_engine.reporting.local_days import sends_per_local_day
from campaign_engine.reps.digest_content import offer_for_click
from campaign_engine.store import message_counts
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
    UTCDateTime,
)
from campaign_engine.store.sql_dates import local_date

__all__ = ["APPLE_PRIVACY", "count_report"]


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
APPLE_PRIVACY = "apple_privacy"  # _E.bot_reason of Apple Mail Privacy Protection pixel loads
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


def _merging_events_with_messages(session: Session, query: Any) -> list[Any]:
    """The rows of `query`; on PostgreSQL without hash joins, so events meet their messages in
    message-id order (ix_event_message_id against ix_message_report) instead of every message
    row probing a hash of the events: 3 times faster on a million messages."""
    if session.get_bind().dialect.name != "postgresql":
        return list(session.execute(query))
    session.execute(sa.text("SET LOCAL enable_hashjoin = off"))
    try:
        return list(session.execute(query))
    finally:
        session.execute(sa.text("RESET enable_hashjoin"))


def _flags() -> list[tuple[str, Any, Any]]:
    """Per event: (column, 1 when it counts, L1 aggregate), in `Engagement`'s field order then
    human contact requests as events (for the days). `sum` counts events; `max` marks the contact,
    so summing the marks of distinct contacts counts them without COUNT(DISTINCT) sorts."""
    human = _E.is_human == True  # noqa: E712
    apple = sa.func.coalesce(_E.bot_reason, "") == APPLE_PRIVACY
    kind = _E.kind
    count, mark = sa.func.sum, sa.func.max
    return [
        ("opens_total", sa.and_(human, kind == EventKind.OPEN), count),
        ("clicks_total", sa.and_(human, kind == EventKind.CLICK), count),
        ("contact_page_visits", sa.and_(human, kind == EventKind.CONTACT_PAGE), count),
        ("apple_opens", sa.and_(~human, apple, kind == EventKind.OPEN), count),
        ("scanner_opens", sa.and_(~human, ~apple, kind == EventKind.OPEN), count),
        ("scanner_clicks", sa.and_(~human, ~apple, kind == EventKind.CLICK), count),
        ("openers", sa.and_(human, col(kind).in_((EventKind.OPEN, EventKind.CLICK))), mark),
        ("clickers", sa.and_(human, kind == EventKind.CLICK), mark),
        ("requesters", sa.and_(human, kind == EventKind.CONTACT_REQUEST), mark),
        ("unsubscribers", kind == EventKind.UNSUBSCRIBE, mark),
        ("repliers", kind == EventKind.REPLY, mark),
        ("auto_repliers", kind == EventKind.AUTO_REPLY, mark),
        ("complainers", kind == EventKind.COMPLAINT, mark),
        ("requests", sa.and_(human, kind == EventKind.CONTACT_REQUEST), count),
    ]


def _engagement(
    session: Session, campaigns: tuple[model.CampaignRow, ...], now: datetime
) -> tuple[
    tuple[model.GroupEngagement, ...],
    tuple[model.StepEngagement, ...],
    tuple[model.OfferClicks, ...],
    tuple[model.DayEngagement, ...],
]:
    """Events on the campaigns' messages, joined once (a CTE) and grouped four ways in one
    statement: per contact group, per step, per offer clicked and per day of the campaign's zone.
    Each way but the days (events only) groups per contact first, then adds the contacts up
    (hash aggregates, no sorts)."""
    ids = [c.id for c in campaigns]
    when = sa.func.coalesce(_E.occurred_at, sa.literal(now, UTCDateTime()))
    flags = _flags()
    ev = (
        sa.select(
            _M.campaign_id,
            _M.step,
            _M.contact_id,
            _M.segment,
            _M.title,
            _M.rep_id,
            _E.link_index,
            _E.url,
            local_date(when, _CA.timezone).label("day"),
            *(sa.case((flag, 1), else_=0).label(name) for name, flag, _ in flags),
        )
        .select_from(Event)
        .join(Message, _M.id == _E.message_id)
        .join(Campaign, _CA.id == _M.campaign_id)
        .where(_M.campaign_id.in_(ids))
        .cte("ev")
    )
    offers, offer = _offer_names(session, campaigns, ev)
    nothing = {
        "step": sa.cast(sa.null(), sa.Integer),
        "segment": sa.cast(sa.null(), sa.String),
        "title": sa.cast(sa.null(), sa.String),
        "rep_id": sa.cast(sa.null(), sa.Integer),
        "day": sa.cast(sa.null(), sa.Date),
        "offer": sa.literal(-1),
    }

    def branch(slice_: str, where: Any = sa.true(), contacts: bool = True, **by: Any) -> Any:
        """One way of grouping; `contacts`: its distinct-contact figures are wanted (a day's
        are not: it shows events)."""
        keys = [ev.c.campaign_id, *(value.label(name) for name, value in by.items())]
        values = ((name, agg(ev.c[name]) if contacts else ev.c[name]) for name, _, agg in flags)
        rows = sa.select(*keys, *(value.label(name) for name, value in values)).where(where)
        if contacts:
            rows = rows.group_by(*keys[:1], *by.values(), ev.c.contact_id)
        per_contact = rows.subquery()
        inner = [per_contact.c[name] for name in by]
        return sa.select(
            sa.literal(slice_),
            per_contact.c.campaign_id,
            *(per_contact.c[name] if name in by else value for name, value in nothing.items()),
            *(sa.func.sum(per_contact.c[name]) for name, _, _ in flags),
        ).group_by(per_contact.c.campaign_id, *inner)

    engaged = sa.or_(ev.c.opens_total == 1, ev.c.clicks_total == 1, ev.c.requests == 1)
    query = sa.union_all(
        branch("step", step=ev.c.step),
        branch("group", segment=ev.c.segment, title=ev.c.title, rep_id=ev.c.rep_id),
        branch("day", engaged, contacts=False, day=ev.c.day),
        branch("offer", ev.c.clickers == 1, offer=offer),
    )
    by_group, by_step, by_offer, by_day = [], [], [], []
    for row in _merging_events_with_messages(session, query):
        slice_, campaign_id, step, segment, title, rep_id, day, index, *values = row
        e = model.Engagement(*(int(v or 0) for v in values[:-1]))
        if slice_ == "step":
            by_step.append(model.StepEngagement(campaign_id, step, e))
        elif slice_ == "group":
            by_group.append(model.GroupEngagement(campaign_id, _group(segment, title, rep_id), e))
        elif slice_ == "day":
            requests = int(values[-1] or 0)
            by_day.append(
                model.DayEngagement(campaign_id, day, e.opens_total, e.clicks_total, requests)
            )
        elif index >= 0:
            _, number, name, url = offers[index]
            by_offer.append(
                model.OfferClicks(campaign_id, number, name, url, e.clickers, e.clicks_total)
            )
    return tuple(by_group), tuple(by_step), tuple(by_offer), tuple(by_day)


def _offer_names(
    session: Session, campaigns: tuple[model.CampaignRow, ...], ev: Any
) -> tuple[list[tuple[int, int, str, str]], Any]:
    """The offers clicks went to, and a CASE giving each click's index among them: the distinct
    links clicked (few) are named in Python by `offer_for_click` for every step."""
    links = session.execute(
        sa.select(_E.link_index, _E.url)
        .where(_E.kind == EventKind.CLICK, _E.is_human == True)  # noqa: E712
        .distinct()
    ).all()
    offers: list[tuple[int, int, str, str]] = []
    whens: list[tuple[Any, int]] = []
    for campaign in campaigns:
        for step in campaign.sequence.steps:
            registry = list(campaign.links.get(step.number, []))
            for link_index, url in links:
                named = offer_for_click(step, registry, link_index, url)
                key = (campaign.id, step.number, named.name, named.url)
                if key not in offers:
                    offers.append(key)
                same_link = sa.and_(
                    ev.c.campaign_id == campaign.id,
                    ev.c.step == step.number,
                    ev.c.link_index.is_(None)
                    if link_index is None
                    else ev.c.link_index == link_index,
                    ev.c.url.is_(None) if url is None else ev.c.url == url,
                )
                whens.append((same_link, offers.index(key)))
    return offers, sa.case(*whens, else_=-1) if whens else sa.literal(-1)


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
