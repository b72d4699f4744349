"""What the send-time checks need to know about a batch's contacts, read in a few queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import MessageState
from campaign_engine.sending.claim import Claimed
from campaign_engine.sending.eligibility import ExclusionRule, Exclusions
from campaign_engine.sending.render import Recipient
from campaign_engine.store.bulk import among
from campaign_engine.store.compliance_tables import HashedSuppression, email_hash
from campaign_engine.store.models import (
    Account,
    Contact,
    Enrollment,
    Exclusion,
    Message,
    Rep,
    Suppression,
)

__all__ = [
    "active_exclusions",
    "enrollment_statuses",
    "recent_marketing_sends",
    "recipients",
    "suppression_reasons",
]


def suppression_reasons(session: Session, emails: list[str]) -> dict[str, str]:
    """Suppressed addresses among `emails`, with the reason; erased people match by hash."""
    rows = session.exec(
        select(Suppression.email, Suppression.reason).where(col(Suppression.email).in_(emails))
    ).all()
    reasons = dict(rows)
    hashes = {email_hash(email): email for email in emails if email not in reasons}
    if hashes:
        hashed = session.exec(
            select(HashedSuppression.email_hash, HashedSuppression.reason).where(
                col(HashedSuppression.email_hash).in_(list(hashes))
            )
        ).all()
        reasons.update((hashes[digest], reason) for digest, reason in hashed)
    return reasons


def active_exclusions(session: Session) -> Exclusions:
    """Every exclusion rule in force (not removed)."""
    rows = session.exec(select(Exclusion).where(col(Exclusion.removed_at).is_(None))).all()
    return Exclusions(ExclusionRule(r.email, r.domain, r.campaign_id, r.reason) for r in rows)


def recipients(session: Session, contact_ids: list[int]) -> dict[int, tuple[Recipient, str, bool]]:
    """Contact id -> (recipient, outreach mode, unsubscribed); plain columns, not ORM objects
    (three per message), since this runs for every message sent."""
    query: Any = (  # eleven columns: more than the typed overloads of select() spell out
        sa.select(
            col(Contact.id),
            col(Contact.email),
            col(Contact.first_name),
            col(Contact.last_name),
            col(Contact.title),
            col(Contact.outreach_mode),
            col(Contact.unsubscribed_at),
            col(Account.name).label("account"),
            col(Account.segment),
            col(Rep.name).label("rep_name"),
            col(Rep.email).label("rep_email"),
        )
        .join(Account, col(Account.id) == Contact.account_id)
        .join(Rep, col(Rep.id) == Account.rep_id, isouter=True)
        .where(col(Contact.id).in_(contact_ids))
    )
    result: dict[int, tuple[Recipient, str, bool]] = {}
    for row in session.connection().execute(query):
        recipient = Recipient(
            row.email,
            row.first_name,
            row.last_name,
            row.title,
            row.account,
            row.segment,
            row.rep_name or "",  # no rep: the account is unowned
            row.rep_email or "",
        )
        result[row.id] = (recipient, row.outreach_mode, row.unsubscribed_at is not None)
    return result


def enrollment_statuses(
    session: Session, ids: list[int]
) -> dict[int, tuple[str, str | None, date | None]]:
    """Enrollment id -> (its status, its contact's zone or None for the campaign's, its local
    first day): what the checks need, and what its next step is planned from."""
    rows = session.exec(
        select(
            col(Enrollment.id),
            col(Enrollment.status),
            col(Enrollment.timezone),
            col(Enrollment.first_day),
        ).where(col(Enrollment.id).in_(ids))
    ).all()
    return {eid: (status, tz or None, first) for eid, status, tz, first in rows if eid is not None}


def recent_marketing_sends(
    session: Session, batch: Sequence[Claimed], since: datetime, now: datetime
) -> dict[int, list[datetime]]:
    """Contact id -> when each marketing email (any campaign, automated or rep-sent) went out
    to the contacts of `batch` after `since`; one query for the whole batch.

    An email to them that another worker holds in flight (claimed, outcome not yet recorded)
    counts as sent `now` when it is older than this batch's: of two campaigns' emails to one
    person sent at once by two workers, the older goes and the cap holds the other back.
    """
    first_here: dict[int, int] = {}  # contact id -> the oldest of its messages in the batch
    for message in batch:
        mine = message.id
        first_here[message.contact_id] = min(first_here.get(message.contact_id, mine), mine)
    connection = session.connection()
    m = Message.__table__.c  # type: ignore[attr-defined]
    rows = connection.execute(
        sa.select(m.contact_id, m.id, m.state, m.sent_at).where(
            among(connection, m.contact_id, first_here),
            sa.or_(
                sa.and_(m.state == MessageState.SENT, m.sent_at > since),
                sa.and_(
                    m.state == MessageState.SENDING,
                    sa.not_(among(connection, m.id, [message.id for message in batch])),
                ),
            ),
        )
    )
    sends: dict[int, list[datetime]] = defaultdict(list)
    for contact_id, message_id, state, sent_at in rows:
        if state == MessageState.SENT and sent_at is not None:
            sends[contact_id].append(sent_at)
        elif state == MessageState.SENDING and (message_id or 0) < first_here[contact_id]:
            sends[contact_id].append(now)
    return dict(sends)
