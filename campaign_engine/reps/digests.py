"""Engagement digests to reps: claim each human event once, render, send, retry what failed.

An event is claimed by inserting a DigestItem (event_id is unique) in the same transaction as its
Digest row, so two runs at once, or a run after a crash, can never put it in a second digest. The
Digest stays `queued` until the relay accepts it: a crash or a 4xx leaves it for the next run.

Next-step reminders due and not noticed yet ride along ("Next emails due", after the engagement):
their ReminderNotice rows are written in that same transaction, with the Digest's created_at, which
ties them to the digest, so a retry re-sends them. A digest that fails for good deletes its notices,
so the reminders are offered again to the next digest. A digest goes out when it has engagement or
reminders; reps with digests off get reminders by separate email (reminder_mail.py).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.errors import NotFound
from campaign_engine.core.kinds import DigestMode, DigestState, EventKind
from campaign_engine.reps.digest_content import (
    RANK,
    CampaignInfo,
    DigestEntry,
    EngagementFact,
    build_entries,
)
from campaign_engine.reps.digest_schedule import (
    DEFAULT_PREFERENCE,
    WEEKDAYS,
    Preference,
    digest_due,
    format_weekdays,
    parse_weekdays,
    rep_zone,
)
from campaign_engine.reps.mail_retry import note_relay_fault, relay_paused, released, rep_mail_fate
from campaign_engine.reps.reminder_mail import (
    ReminderLine,
    draft_command,
    draft_path,
    reminder_key,
    reminder_lines,
    unnoticed,
)
from campaign_engine.reps.rep_view import contact_url, local_time, on_wall_clock
from campaign_engine.sending.mime import build_mime, format_address, wire_address
from campaign_engine.sending.retry import RetryPolicy, expired_claims
from campaign_engine.sending.sequences import Sequence
from campaign_engine.sending.templating import template_environment
from campaign_engine.sending.transport import Delivery, Outcome, Transport
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
    "DigestPreview",
    "DigestReport",
    "RenderedDigest",
    "claim_events",
    "contacts",
    "local_time",
    "pending_entries",
    "pending_reminders",
    "preview_digest",
    "render_digest",
    "send_due_digests",
    "set_preference",
]

log = logging.getLogger(__name__)

_DIGESTS: sa.Table = Digest.__table__  # type: ignore[attr-defined]
_ITEMS: sa.Table = DigestItem.__table__  # type: ignore[attr-defined]
_NOTICES: sa.Table = ReminderNotice.__table__  # type: ignore[attr-defined]
_CLAIM_CHUNK = 500  # events per INSERT statement


@dataclass
class DigestReport:
    """What one digest run did: rep addresses per outcome."""

    sent: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    nothing_new: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "digests sent": len(self.sent),
            "digests retry": len(self.retry),
            "digests failed": len(self.failed),
        }


@dataclass(frozen=True)
class DigestPreview:
    """What the rep's next digest would contain right now (nothing claimed)."""

    rep: Rep
    preference: Preference
    due: bool
    last_run_at: datetime | None
    entries: list[DigestEntry]
    reminders: list[ReminderLine] = field(default_factory=list)


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    html: str
    text: str


# -- preferences ------------------------------------------------------------------------------


def rep_by_email(session: Session, email: str) -> Rep:
    rep = session.exec(select(Rep).where(Rep.email == email.strip().lower())).first()
    if rep is None:
        raise NotFound(
            f"no rep with email {email!r}: reps come from `campaign import contacts` (owner_email)"
            " or `campaign import reps`"
        )
    return rep


def set_preference(
    db: Database,
    rep_email: str,
    mode: str | None = None,
    hour: int | None = None,
    weekdays: str | None = None,
) -> tuple[Rep, Preference]:
    """Change what was given, keep the rest; returns the rep and the preference now stored."""
    with db.session() as session:
        rep = rep_by_email(session, rep_email)
        assert rep.id is not None
        current = _preferences(session, [rep.id]).get(rep.id, DEFAULT_PREFERENCE)
        wanted = Preference(
            mode=DigestMode(mode) if mode else current.mode,
            hour=current.hour if hour is None else hour,
            weekdays=parse_weekdays(weekdays) if weekdays else current.weekdays,
        )
        row = session.exec(
            select(DigestPreference).where(DigestPreference.rep_id == rep.id)
        ).first()
        row = row or DigestPreference(rep_id=rep.id)
        row.mode, row.hour = wanted.mode.value, wanted.hour
        row.weekdays = ",".join(WEEKDAYS[d] for d in wanted.weekdays)
        session.add(row)
        return rep, wanted


def describe(pref: Preference, timezone: str) -> str:
    """'scheduled: mon-fri at 08:00 Europe/Berlin', 'immediate' or 'off'."""
    if pref.mode != DigestMode.SCHEDULED:
        return pref.mode.value
    return f"scheduled: {format_weekdays(pref.weekdays)} at {pref.hour:02d}:00 {timezone or 'UTC'}"


# -- reading ----------------------------------------------------------------------------------


def preview_digest(
    db: Database, rep_email: str, now: datetime, reminder_days: int = 7
) -> DigestPreview:
    with db.session() as session:
        rep = rep_by_email(session, rep_email)
        assert rep.id is not None
        pref = _preferences(session, [rep.id]).get(rep.id, DEFAULT_PREFERENCE)
        last = _last_runs(session, [rep.id]).get(rep.id)
        entries = pending_entries(session, rep.id, now)
        reminders = pending_reminders(session, rep, pref, now, reminder_days)
    due = digest_due(pref, rep_zone(rep.timezone), last, now)
    return DigestPreview(rep, pref, due, last, entries, reminders)


def pending_entries(session: Session, rep_id: int, now: datetime) -> list[DigestEntry]:
    facts = _facts(session, *_pending(rep_id, now))
    return build_entries(facts, _campaign_infos(session, facts))


def pending_reminders(
    session: Session, rep: Rep, pref: Preference, now: datetime, reminder_days: int
) -> list[ReminderLine]:
    """Reminders due for the rep and not noticed yet; none when the rep's digests are off."""
    if pref.mode == DigestMode.OFF:
        return []
    return unnoticed(session, reminder_lines(session, now, reminder_days, rep.email))


# -- claiming ---------------------------------------------------------------------------------


def claim_events(
    db: Database,
    rep_id: int,
    event_ids: Iterable[int],
    now: datetime,
    record_empty: bool = False,
    reminders: Iterable[ReminderLine] = (),
) -> int | None:
    """Create a queued Digest owning every given event and reminder nobody claimed yet; its id,
    or None when there was neither.

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
    db: Database, connection: Any, rep_id: int, lines: list[ReminderLine], now: datetime
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


# -- sending ----------------------------------------------------------------------------------


async def send_due_digests(
    db: Database,
    settings: Settings,
    transport: Transport,
    now: datetime,
    rep_email: str | None = None,
) -> DigestReport:
    """Claim and send every digest due at `now`; with `rep_email`, that rep's digest regardless
    of schedule. Queued digests (new, after a crash, or after a 4xx) are sent too."""
    report = DigestReport()
    forced = rep_email is not None
    with db.session() as session:
        if forced:
            reps = [rep_by_email(session, rep_email or "")]
        else:
            reps = list(session.exec(select(Rep).order_by(col(Rep.id))).all())
        rep_ids = [r.id for r in reps if r.id is not None]
        prefs = _preferences(session, rep_ids)
        last = _last_runs(session, rep_ids)
        _requeue_expired(session, now)
    by_id = {rep.id: rep for rep in reps}
    for rep in reps:
        assert rep.id is not None
        pref = prefs.get(rep.id, DEFAULT_PREFERENCE)
        if not forced and not digest_due(pref, rep_zone(rep.timezone), last.get(rep.id), now):
            continue
        with db.session() as session:
            event_ids = [f.event_id for f in _facts(session, *_pending(rep.id, now))]
            reminders = pending_reminders(session, rep, pref, now, settings.reminder_days)
        scheduled = pref.mode == DigestMode.SCHEDULED and not forced
        if claim_events(db, rep.id, event_ids, now, scheduled, reminders) is None:
            report.nothing_new.append(rep.email)
    if relay_paused(db, settings, now):  # claimed digests wait, queued, for the relay
        return report
    deliveries, digests = _prepare(db, settings, by_id, now, forced)
    outcomes = await transport.deliver(deliveries) if deliveries else []
    _record(db, settings, digests, outcomes, now, report)
    note_relay_fault(db, settings, outcomes, now)
    return report


def render_digest(
    templates_dir: Path,
    rep: Rep,
    entries: list[DigestEntry],
    now: datetime,
    reminders: list[ReminderLine] | None = None,
    base_url: str = "",
) -> RenderedDigest:
    """Subject, HTML and text of a digest (sandboxed Jinja2, HTML autoescaped); `reminders`
    fill the "Next emails due" section, with draft links under `base_url`."""
    zone = rep_zone(rep.timezone)
    env = template_environment(templates_dir)
    env.filters["local"] = lambda moment: on_wall_clock(moment, zone)
    requests = sum(1 for e in entries if e.top.kind == EventKind.CONTACT_REQUEST)
    reminders = reminders or []
    parts = [contacts(len(entries))] if entries or not reminders else []
    if requests:
        parts.append(f"{requests} asked to be contacted")
    if reminders:
        parts.append(f"{len(reminders)} next email{'' if len(reminders) == 1 else 's'} due")
    subject = f"Email offer engagement: {', '.join(parts)}"
    context: dict[str, Any] = {
        "rep": {"name": " ".join(rep.name.split()) or rep.email, "email": rep.email},
        "entries": entries,
        "reminders": [_reminder_view(line, base_url) for line in reminders],
        "subject": subject,
        "generated": on_wall_clock(now, zone),
        "contact_urls": {e.email: contact_url(base_url, e.contact_id) for e in entries},
    }
    html = env.get_template("digests/digest.html.j2").render(context)
    text = env.get_template("digests/digest.txt.j2").render(context)
    return RenderedDigest(subject, html, text)


# -- internals --------------------------------------------------------------------------------


def _reminder_view(line: ReminderLine, base_url: str) -> dict[str, object]:
    draft = line.draft_id
    return {
        **line.to_json(),
        "sent_on": f"{line.reminder.sent_at:%Y-%m-%d}",
        "command": draft_command(draft) if draft else "",
        "url": f"{base_url.rstrip('/')}{draft_path(draft)}" if draft else "",
    }


def _reminders_of(
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


@dataclass
class _Claimed:
    digest: Digest
    rep: Rep


def _prepare(
    db: Database, settings: Settings, reps: dict[int | None, Rep], now: datetime, forced: bool
) -> tuple[list[Delivery], dict[int, _Claimed]]:
    """Take each sendable queued digest (queued -> sending, with a lease) and build its mail."""
    sender = parseaddr(settings.from_address)[1]
    domain = sender.rsplit("@", 1)[-1] or "localhost"
    deliveries: list[Delivery] = []
    taken: dict[int, _Claimed] = {}
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
            facts = _facts(session, col(Event.id).in_(_items_of(digest.id)))
            entries = build_entries(facts, _campaign_infos(session, facts))
            reminders = _reminders_of(session, digest, rep, now, settings.reminder_days)
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
            taken[digest.id] = _Claimed(digest, rep)
    return deliveries, taken


def _record(
    db: Database,
    settings: Settings,
    digests: dict[int, _Claimed],
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


def _requeue_expired(session: Session, now: datetime) -> None:
    """A digest whose sender died mid-send goes back to the queue: a rare duplicate digest is
    better than a lead the rep never hears about."""
    session.connection().execute(
        sa.update(_DIGESTS)
        .where(expired_claims(_DIGESTS, now))
        .values(state=DigestState.QUEUED, claimed_until=None, error="sender lease expired")
    )


def _pending(rep_id: int, now: datetime) -> list[Any]:
    return [
        Account.rep_id == rep_id,
        col(Event.is_human).is_(True),
        col(Event.kind).in_(list(RANK)),
        col(Event.occurred_at) <= now,
        ~sa.exists().where(col(DigestItem.event_id) == Event.id),
    ]


def _items_of(digest_id: int) -> Any:
    return select(DigestItem.event_id).where(DigestItem.digest_id == digest_id)


def _facts(session: Session, *conditions: Any) -> list[EngagementFact]:
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


def _campaign_infos(session: Session, facts: list[EngagementFact]) -> dict[int, CampaignInfo]:
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


def _preferences(session: Session, rep_ids: list[int]) -> dict[int, Preference]:
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


def _last_runs(session: Session, rep_ids: list[int]) -> dict[int, datetime]:
    rows = session.exec(
        select(Digest.rep_id, sa.func.max(Digest.created_at))
        .where(col(Digest.rep_id).in_(rep_ids))
        .group_by(col(Digest.rep_id))
    ).all()
    return {rep_id: _aware(last) for rep_id, last in rows if last is not None}


def _aware(moment: Any) -> datetime:
    """max() over a UTCDateTime column comes back naive (or as text on SQLite)."""
    return utc(moment) if isinstance(moment, datetime) else utc(datetime.fromisoformat(moment))


def _insert_ignoring_duplicates(db: Database) -> Any:
    return postgresql.insert if is_postgres(db.engine) else sqlite.insert


def contacts(count: int) -> str:
    return f"{count} contact{'' if count == 1 else 's'}"
