"""Claiming engagement events and due reminders for a rep's digest, and reading digest rows."""

# An event is claimed by inserting a DigestItem (event_id is unique) in the same transaction as its
# Digest row, so two runs at once, or a run after a crash, can never put it in a second digest. The
# Digest stays `queued` until the relay accepts it: a crash or a 4xx leaves it for the next run.
#
# Next-step reminders due and not noticed yet ride along ("Next emails due", after the engagement):
# their ReminderNotice rows are written in that same transaction, with the Digest's created_at,
# which ties them to the digest, so a retry re-sends them. A digest that fails for good deletes its
# notices, so the reminders are offered again to the next digest. A digest goes out when it has
# engagement or reminders; reps with digests off get reminders by separate email (reminder_mail.py).

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import DigestMode, DigestState
from campaign_engine.reps.digest_content import (
    RANK,
    CampaignInfo,
    DigestEntry,
    EngagementFact,
    build_entries,
)
from campaign_engine.reps.digest_schedule import Preference, parse_weekdays
from campaign_engine.reps.reminder_mail import reminder_key, unnoticed
from campaign_engine.reps.reminder_query import ReminderLine, reminder_lines
from campaign_engine.sending.retry import expired_claims
from campaign_engine.sending.sequences import Sequence
from campaign_engine.store.db import Database, is_postgres
from campaign_engine.store.digest_tables import Digest, DigestItem, DigestPreference
from campaign_engine.store.models import (
    Account,
    Campaign,
    Contact,
    Event,
    Message,
    ReminderNotice,
    Rep,
    utc,
)

__all__ = [
    "campaign_infos",
    "claim_events",
    "digest_items",
    "engagement_facts",
    "last_runs",
    "last_unassigned_run",
    "pending_entries",
    "pending_events",
    "pending_reminders",
    "preferences",
    "reminders_of",
    "requeue_expired",
]

_DIGESTS: sa.Table = Digest.__table__  # type: ignore[attr-defined]
_ITEMS: sa.Table = DigestItem.__table__  # type: ignore[attr-defined]
_NOTICES: sa.Table = ReminderNotice.__table__  # type: ignore[attr-defined]
_CLAIM_CHUNK = 500  # events per INSERT statement


# -- claiming ---------------------------------------------------------------------------------


def claim_events(
    db: Database,
    rep_id: int | None,
    event_ids: Iterable[int],
    now: datetime,
    record_empty: bool = False,
    reminders: Iterable[ReminderLine] = (),
) -> int | None:
    """Create a queued Digest owning every given event and reminder nobody claimed yet; its id,
    or None when there was neither. `rep_id` None: the unassigned fallback's digest.

    The Digest row is written first (so SQLite takes its write lock at once), then the items with
    ON CONFLICT DO NOTHING in ascending event order (so concurrent PostgreSQL claims cannot
    deadlock); all in one transaction, so a crash leaves either both or neither.
    """
    ids = sorted(set(event_ids))
    with db.session() as session:
        connection = session.connection()
        digest_id = connection.execute(
            sa.insert(_DIGESTS)
            .values(
                rep_id=rep_id,
                state=DigestState.QUEUED,
                subject="",
                attempts=0,
                message_id_header="",
                created_at=now,
                next_attempt_at=now,
            )
            .returning(_DIGESTS.c.id)
        ).scalar_one()
        claimed: list[int] = []
        insert = _insert_ignoring_duplicates(db)
        for start in range(0, len(ids), _CLAIM_CHUNK):
            rows = [
                {"event_id": eid, "rep_id": rep_id, "digest_id": digest_id}
                for eid in ids[start : start + _CLAIM_CHUNK]
            ]
            statement = (
                insert(_ITEMS)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["event_id"])
                .returning(_ITEMS.c.event_id)
            )
            claimed += connection.execute(statement).scalars().all()
        if _claim_reminders(db, connection, rep_id, list(reminders), now) or claimed:
            return int(digest_id)
        if record_empty:  # remember that this slot ran, so a later click waits for the next one
            connection.execute(
                sa.update(_DIGESTS)
                .where(_DIGESTS.c.id == digest_id)
                .values(state=DigestState.EMPTY, next_attempt_at=None)
            )
        else:
            connection.execute(sa.delete(_DIGESTS).where(_DIGESTS.c.id == digest_id))
        return None


def _claim_reminders(
    db: Database, connection: Any, rep_id: int | None, lines: list[ReminderLine], now: datetime
) -> bool:
    """Notice the reminders nobody noticed yet, stamped with the digest's created_at (`now`)."""
    if not lines:
        return False
    rows = [
        {
            "campaign_id": line.reminder.campaign_id,
            "contact_id": line.reminder.contact_id,
            "rep_id": rep_id,
            "step": line.reminder.next_step,
            "created_at": now,
        }
        for line in sorted(lines, key=lambda line: reminder_key(line.reminder))
    ]  # in key order, like the events, so concurrent PostgreSQL claims cannot deadlock
    statement = (
        _insert_ignoring_duplicates(db)(_NOTICES)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["campaign_id", "contact_id", "step"])
        .returning(_NOTICES.c.id)
    )
    return bool(connection.execute(statement).scalars().all())


# -- reading ----------------------------------------------------------------------------------


def pending_entries(session: Session, rep_id: int, now: datetime) -> list[DigestEntry]:
    facts = engagement_facts(session, *pending_events(rep_id, now))
    return build_entries(facts, campaign_infos(session, facts))


def pending_reminders(
    session: Session, rep: Rep, pref: Preference, now: datetime, reminder_days: int
) -> list[ReminderLine]:
    """Reminders due for the rep and not noticed yet; none when the rep's digests are off."""
    if pref.mode == DigestMode.OFF:
        return []
    return unnoticed(session, reminder_lines(session, now, reminder_days, rep.email))


def reminders_of(
    session: Session, digest: Digest, rep: Rep, now: datetime, reminder_days: int
) -> list[ReminderLine]:
    """The reminders this digest noticed (same rep, same created_at) that are still due."""
    keys = set(
        session.exec(
            select(
                ReminderNotice.campaign_id, ReminderNotice.contact_id, ReminderNotice.step
            ).where(
                ReminderNotice.rep_id == digest.rep_id,
                ReminderNotice.created_at == digest.created_at,
            )
        ).all()
    )
    if not keys:
        return []
    lines = reminder_lines(session, now, reminder_days, rep.email)
    return [line for line in lines if reminder_key(line.reminder) in keys]


def requeue_expired(session: Session, now: datetime) -> None:
    """A digest whose sender died mid-send goes back to the queue: a rare duplicate digest is
    better than a lead the rep never hears about."""
    session.connection().execute(
        sa.update(_DIGESTS)
        .where(expired_claims(_DIGESTS, now))
        .values(state=DigestState.QUEUED, claimed_until=None, error="sender lease expired")
    )


def pending_events(rep_id: int | None, now: datetime) -> list[Any]:
    """The rep's engagement no digest has yet (rep_id None: that of accounts without a rep)."""
    return [
        col(Account.rep_id).is_(None) if rep_id is None else Account.rep_id == rep_id,
        col(Event.is_human).is_(True),
        col(Event.kind).in_(list(RANK)),
        col(Event.occurred_at) <= now,
        ~sa.exists().where(col(DigestItem.event_id) == Event.id),
    ]


def digest_items(digest_id: int) -> Any:
    return select(DigestItem.event_id).where(DigestItem.digest_id == digest_id)


def engagement_facts(session: Session, *conditions: Any) -> list[EngagementFact]:
    contact_id = sa.func.coalesce(Event.contact_id, Message.contact_id)
    rows = session.exec(
        select(Event, Contact, Account, Message.campaign_id, Message.step, Message.origin)  # type: ignore[call-overload]
        .select_from(Event)
        .outerjoin(Message, col(Message.id) == Event.message_id)
        .join(Contact, col(Contact.id) == contact_id)
        .join(Account, col(Account.id) == Contact.account_id)
        .where(*conditions)
        .order_by(col(Event.occurred_at), col(Event.id))
    ).all()
    return [
        EngagementFact(
            event_id=event.id,
            kind=event.kind,
            occurred_at=event.occurred_at,
            contact_email=contact.email,
            first_name=contact.first_name,
            last_name=contact.last_name,
            title=contact.title,
            account=account.name,
            segment=account.segment,
            campaign_id=campaign_id,
            step=step,
            channel=origin,
            link_index=event.link_index,
            url=event.url,
            note=event.note,
            contact_id=contact.id,
        )
        for event, contact, account, campaign_id, step, origin in rows
    ]


def campaign_infos(session: Session, facts: list[EngagementFact]) -> dict[int, CampaignInfo]:
    ids = {f.campaign_id for f in facts if f.campaign_id is not None}
    if not ids:
        return {}
    campaigns = session.exec(select(Campaign).where(col(Campaign.id).in_(ids))).all()
    return {
        c.id: CampaignInfo(
            name=c.name,
            sequence=Sequence.from_json(c.sequence_json),
            links=c.link_registry(),
        )
        for c in campaigns
        if c.id is not None
    }


def preferences(session: Session, rep_ids: list[int]) -> dict[int, Preference]:
    rows = session.exec(
        select(DigestPreference).where(col(DigestPreference.rep_id).in_(rep_ids))
    ).all()
    return {
        row.rep_id: Preference(
            mode=DigestMode(row.mode),
            hour=row.hour,
            weekdays=parse_weekdays(row.weekdays),
        )
        for row in rows
    }


def last_runs(session: Session, rep_ids: list[int]) -> dict[int, datetime]:
    rows = session.exec(
        select(Digest.rep_id, sa.func.max(Digest.created_at))
        .where(col(Digest.rep_id).in_(rep_ids))
        .group_by(col(Digest.rep_id))
    ).all()
    return {
        rep_id: _aware(last) for rep_id, last in rows if rep_id is not None and last is not None
    }


def last_unassigned_run(session: Session) -> datetime | None:
    """When the unassigned fallback's digest last ran, if ever."""
    last = session.exec(
        select(sa.func.max(Digest.created_at)).where(col(Digest.rep_id).is_(None))
    ).one()
    return None if last is None else _aware(last)


def _aware(moment: Any) -> datetime:
    """max() over a UTCDateTime column comes back naive (or as text on SQLite)."""
    return utc(moment) if isinstance(moment, datetime) else utc(datetime.fromisoformat(moment))


def _insert_ignoring_duplicates(db: Database) -> Any:
    return postgresql.insert if is_postgres(db.engine) else sqlite.insert
