"""The digest of engagement no rep owns (contacts of accounts without a rep): it goes to the
unassigned fallback (`[reps] unassigned_to`, else the console's ops users), on the default
digest schedule (weekdays at 08:00) in the engine's time zone, saying first that no rep owns
these accounts and how to give each one a rep.

Its events are claimed like a rep's (a Digest without a rep, see digest_claims); its mail goes
out as one alert per fallback address, queued in the transaction that marks the digest sent, so
each address is retried on its own and a crash in between leaves the digest queued for the next
run. With no fallback at all nothing is claimed: the engagement waits for the account's rep.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import DigestState
from campaign_engine.reps.alerts import queue_alert
from campaign_engine.reps.digest_claims import (
    campaign_infos,
    claim_events,
    digest_items,
    engagement_facts,
    last_unassigned_run,
    pending_events,
)
from campaign_engine.reps.digest_content import build_entries
from campaign_engine.reps.digest_render import render_digest
from campaign_engine.reps.digest_schedule import DEFAULT_PREFERENCE, digest_due, rep_zone
from campaign_engine.reps.request_alerts import fallback_recipients
from campaign_engine.store.db import Database
from campaign_engine.store.digest_tables import Digest
from campaign_engine.store.models import Event, Rep

__all__ = ["UNASSIGNED_DIGEST", "queue_unassigned_digest"]

UNASSIGNED_DIGEST = "unassigned_digest"  # the kind of its alerts
_DIGESTS: sa.Table = Digest.__table__  # type: ignore[attr-defined]


def queue_unassigned_digest(db: Database, settings: Settings, now: datetime) -> int:
    """When its slot is due, claim the engagement no rep owns and queue its digest to every
    fallback address; returns how many alerts were queued (0: not due, nothing new, or nobody
    to send it to)."""
    with db.session() as session:
        recipients = fallback_recipients(session, settings)
        last = last_unassigned_run(session)
        due = digest_due(DEFAULT_PREFERENCE, rep_zone(settings.timezone), last, now)
        facts = engagement_facts(session, *pending_events(None, now)) if recipients and due else []
    if not recipients:
        return 0
    if due:
        claim_events(db, None, [f.event_id for f in facts], now, record_empty=True)
    return _queue_alerts(db, settings, recipients, now)


def _queue_alerts(db: Database, settings: Settings, recipients: list[str], now: datetime) -> int:
    """Render every queued unassigned digest and queue it to `recipients`, marking it sent."""
    zone_only = Rep(email="", name="", timezone=settings.timezone)
    queued = 0
    with db.session() as session:
        waiting = select(Digest.id).where(
            col(Digest.rep_id).is_(None), Digest.state == DigestState.QUEUED
        )
        for digest_id in session.exec(waiting.order_by(col(Digest.id))).all():
            assert digest_id is not None
            taken = session.connection().execute(
                sa.update(_DIGESTS)
                .where(_DIGESTS.c.id == digest_id, _DIGESTS.c.state == DigestState.QUEUED)
                .values(state=DigestState.SENT, sent_at=now, next_attempt_at=None)
            )
            if taken.rowcount != 1:
                continue  # another worker took it
            facts = engagement_facts(session, col(Event.id).in_(digest_items(digest_id)))
            entries = build_entries(facts, campaign_infos(session, facts))
            mail = render_digest(settings.templates_dir, zone_only, entries, now,
                                 base_url=settings.tracking_base_url, unassigned=True)  # fmt: skip
            session.connection().execute(
                sa.update(_DIGESTS).where(_DIGESTS.c.id == digest_id).values(subject=mail.subject)
            )
            for recipient in recipients:
                queue_alert(session, kind=UNASSIGNED_DIGEST, rep_id=None, recipient=recipient,
                            contact_id=None, subject=mail.subject, text=mail.text, html=mail.html,
                            reply_to="", now=now)  # fmt: skip
                queued += 1
    return queued
