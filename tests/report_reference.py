"""The report's engagement as it was counted before the counters: every event joined to its
message and grouped four ways in SQL. Tests compare the counter-based report with it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from campaign_engine.core.kinds import EventKind
from campaign_engine.reporting import report_model as model
from campaign_engine.reps.digest_content import offer_for_click
from campaign_engine.store.models import Campaign, Event, Message, UTCDateTime
from campaign_engine.store.sql_dates import local_date

__all__ = ["recounted_engagement"]

_M = Message.__table__.c  # type: ignore[attr-defined]
_E = Event.__table__.c  # type: ignore[attr-defined]
_CA = Campaign.__table__.c  # type: ignore[attr-defined]
APPLE_PRIVACY = "apple_privacy"


def _group(segment: str, title: str | None, rep_id: int | None) -> model.Group:
    return model.Group(segment, title or "", rep_id)


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


def recounted_engagement(
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
