"""Sending claimed digests to reps and recording each one's outcome."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime, parseaddr

import sqlalchemy as sa
from sqlmodel import col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import DigestState
from campaign_engine.reps.digest_claims import (
    campaign_infos,
    digest_items,
    engagement_facts,
    reminders_of,
)
from campaign_engine.reps.digest_content import build_entries
from campaign_engine.reps.digest_render import render_digest
from campaign_engine.reps.mail_retry import released, rep_mail_fate
from campaign_engine.sending.mime import build_mime, format_address, wire_address
from campaign_engine.sending.retry import RetryPolicy
from campaign_engine.sending.transport import Delivery, Outcome
from campaign_engine.store.db import Database
from campaign_engine.store.digest_tables import Digest, DigestItem
from campaign_engine.store.models import Event, ReminderNotice, Rep

__all__ = ["ClaimedDigest", "DigestReport", "prepare_digests", "record_outcomes"]

log = logging.getLogger(__name__)

_DIGESTS: sa.Table = Digest.__table__  # type: ignore[attr-defined]
_ITEMS: sa.Table = DigestItem.__table__  # type: ignore[attr-defined]
_NOTICES: sa.Table = ReminderNotice.__table__  # type: ignore[attr-defined]


@dataclass
class DigestReport:
    """What one digest run did: rep addresses per outcome."""

    sent: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    nothing_new: list[str] = field(default_factory=list)
    unassigned: int = 0  # the fallback's digest of accounts without a rep, queued per address

    def counts(self) -> dict[str, int]:
        return {
            "digests sent": len(self.sent),
            "digests retry": len(self.retry),
            "digests failed": len(self.failed),
            "digests to the unassigned fallback": self.unassigned,
        }


@dataclass
class ClaimedDigest:
    """A digest this run took (queued -> sending) and the rep it goes to."""

    digest: Digest
    rep: Rep


def prepare_digests(
    db: Database, settings: Settings, reps: dict[int | None, Rep], now: datetime, forced: bool
) -> tuple[list[Delivery], dict[int, ClaimedDigest]]:
    """Take each sendable queued digest (queued -> sending, with a lease) and build its mail."""
    sender = parseaddr(settings.from_address)[1]
    domain = sender.rsplit("@", 1)[-1] or "localhost"
    deliveries: list[Delivery] = []
    taken: dict[int, ClaimedDigest] = {}
    with db.session() as session:
        query = select(Digest.id).where(
            Digest.state == DigestState.QUEUED, col(Digest.rep_id).in_(list(reps))
        )
        if not forced:
            query = query.where(col(Digest.next_attempt_at) <= now)
        for digest_id in session.exec(query.order_by(col(Digest.id))).all():
            claimed = session.connection().execute(
                sa.update(_DIGESTS)
                .where(_DIGESTS.c.id == digest_id, _DIGESTS.c.state == DigestState.QUEUED)
                .values(
                    state=DigestState.SENDING,
                    claimed_until=now + timedelta(seconds=settings.lease_seconds),
                )
            )
            if claimed.rowcount != 1:
                continue  # another worker took it
            digest = session.get(Digest, digest_id)
            assert digest is not None and digest.id is not None
            session.refresh(digest)
            rep = reps[digest.rep_id]
            facts = engagement_facts(session, col(Event.id).in_(digest_items(digest.id)))
            entries = build_entries(facts, campaign_infos(session, facts))
            reminders = reminders_of(session, digest, rep, now, settings.reminder_days)
            rendered = render_digest(
                settings.templates_dir, rep, entries, now, reminders, settings.tracking_base_url
            )
            header_id = f"<digest-{digest.id}.{secrets.token_hex(8)}@{domain}>"
            digest.subject, digest.message_id_header = rendered.subject, header_id
            session.add(digest)
            raw = build_mime(
                from_header=format_address(settings.from_address),
                to_header=format_address(rep.email, " ".join(rep.name.split())),
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
                message_id=header_id,
                date=format_datetime(now),
                extra_headers=[("Auto-Submitted", "auto-generated")],
            )
            wire = wire_address(rep.email)
            deliveries.append(Delivery(digest.id, sender, wire.address, raw, wire.smtputf8))
            taken[digest.id] = ClaimedDigest(digest, rep)
    return deliveries, taken


def record_outcomes(
    db: Database,
    settings: Settings,
    digests: dict[int, ClaimedDigest],
    outcomes: list[Outcome],
    now: datetime,
    report: DigestReport,
) -> None:
    """Every claimed digest leaves `sending`: by its outcome, or back to the queue untried. One
    that failed for good lets go of its events and reminders, so the next digest has them."""
    policy = RetryPolicy.from_settings(settings)
    answered = {o.key: o for o in outcomes}
    with db.session() as session:
        for key, claimed in digests.items():
            outcome = answered.get(key)
            digest = claimed.digest
            values = (
                released(now, digest.error or "")
                if outcome is None
                else rep_mail_fate(
                    outcome,
                    attempts=digest.attempts,
                    first_attempt_at=digest.first_attempt_at,
                    policy=policy,
                    now=now,
                )
            )
            session.connection().execute(
                sa.update(_DIGESTS).where(_DIGESTS.c.id == key).values(**values)
            )
            state = values["state"]
            outcomes_of = {DigestState.SENT: report.sent, DigestState.FAILED: report.failed}
            outcomes_of.get(DigestState(str(state)), report.retry).append(claimed.rep.email)
            notices = _NOTICES.c.rep_id == claimed.rep.id
            notices &= _NOTICES.c.created_at == digest.created_at
            if state == DigestState.SENT:
                session.connection().execute(
                    sa.update(_NOTICES)
                    .where(notices, _NOTICES.c.sent_at.is_(None))
                    .values(sent_at=now)
                )
            elif state == DigestState.FAILED:  # offer them again to the next digest
                session.connection().execute(sa.delete(_NOTICES).where(notices))
                session.connection().execute(sa.delete(_ITEMS).where(_ITEMS.c.digest_id == key))
            log.info(
                "digest %s to %s: %s",
                key,
                claimed.rep.email,
                state,
                extra={"digest_id": key, "detail": outcome.detail if outcome else "not tried"},
            )
