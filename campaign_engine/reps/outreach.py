"""Per-contact outreach mode (A do nothing, B sales direct only, C marketing email)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from campaign_engine.audience.segments import automated_channel, parse_outreach_mode
from campaign_engine.core.config import Settings
from campaign_engine.core.errors import CampaignEngineError, NotFound
from campaign_engine.core.kinds import Channel, EnrollmentStatus, OutreachMode
from campaign_engine.reps.drafts import cancel_open_drafts, create_drafts_for_contact, rep_by_email
from campaign_engine.sending.campaigns import schedule_for, sequence_of
from campaign_engine.store.models import Account, Campaign, Contact, Enrollment, Message
from campaign_engine.store.request_tables import ContactRequest

__all__ = ["InvalidMode", "ModeChange", "find_contact", "set_outreach_mode"]


class InvalidMode(CampaignEngineError, ValueError):
    """The outreach mode is not A, B or C."""


@dataclass(frozen=True)
class ModeChange:
    """What changing a contact's mode did."""

    email: str
    old_mode: str
    new_mode: str
    handed_to_rep: int  # automated enrollments moved to the rep channel
    drafts_created: int
    drafts_cancelled: int
    handed_to_automation: int = 0  # rep enrollments moved to the automated channel (mode C)
    kept_with_rep: int = 0  # rep enrollments kept: the contact's request is still open

    def summary(self) -> str:
        """One line: the change and what it did."""
        notes = []
        if self.handed_to_rep:
            notes.append(f"{self.handed_to_rep} automated enrollment(s) handed to the rep")
        if self.drafts_created:
            notes.append(f"{self.drafts_created} draft(s) created")
        if self.handed_to_automation:
            notes.append(
                f"{self.handed_to_automation} rep enrollment(s) moved to the automated sequence"
                " (the next emails go out on schedule)"
            )
        if self.drafts_cancelled:
            notes.append(f"{self.drafts_cancelled} open draft(s) cancelled")
        if self.kept_with_rep:
            notes.append(
                f"{self.kept_with_rep} enrollment(s) kept with the rep: the contact asked to be"
                " contacted and the request is still open"
            )
        change = f"{self.email}: outreach mode {self.old_mode} -> {self.new_mode}"
        return change + (f"; {', '.join(notes)}" if notes else "")


def find_contact(
    session: Session, email: str, rep_email: str | None = None
) -> tuple[Contact, Account]:
    """The contact and its account; with `rep_email`, only among that rep's accounts."""
    query = (
        select(Contact, Account)
        .join(Account, col(Account.id) == Contact.account_id)
        .where(Contact.email == email.strip().lower())
    )
    if rep_email is not None:
        query = query.where(Account.rep_id == rep_by_email(session, rep_email).id)
    row = session.exec(query).first()
    if row is None:
        raise NotFound(f"no contact {email!r}; import it first with `campaign import contacts`")
    return row[0], row[1]


def set_outreach_mode(
    session: Session,
    settings: Settings,
    email: str,
    mode: str,
    now: datetime,
    rep_email: str | None = None,
) -> ModeChange:
    """Change the mode; it holds from the next tick on (automated mail checks it at send time).

    B hands the contact's campaigns to their rep (rep channel, drafts for the steps not sent);
    A cancels their open drafts; C moves their rep threads to the automated sequence where the
    play automates mode C (MM, Large and Strategic; SMB where the sequence automates it): the
    open drafts are cancelled and the emails not sent yet go out on schedule from the next tick.
    A contact whose contact request is still open stays with the rep.
    """
    try:
        new_mode = parse_outreach_mode(mode)
    except ValueError as exc:
        raise InvalidMode(str(exc)) from None
    contact, _ = find_contact(session, email, rep_email)
    assert contact.id is not None
    old_mode = contact.outreach_mode
    contact.outreach_mode = new_mode
    contact.updated_at = now
    session.add(contact)
    session.flush()
    handed, created, cancelled, automated, kept = 0, 0, 0, 0, 0
    if new_mode == OutreachMode.SALES_ONLY:
        handed = len(
            session.exec(
                select(Enrollment.id).where(
                    Enrollment.contact_id == contact.id,
                    Enrollment.channel == Channel.AUTOMATED,
                    Enrollment.status == EnrollmentStatus.ACTIVE,
                )
            ).all()
        )
        created = create_drafts_for_contact(session, contact.id, now, settings)
    elif new_mode == OutreachMode.DO_NOTHING:
        cancelled = cancel_open_drafts(session, contact.id, "outreach mode A", now)
    elif new_mode == OutreachMode.MARKETING:
        automated, cancelled, kept = _to_automation(session, contact, now)
    return ModeChange(
        contact.email, old_mode, new_mode, handed, created, cancelled, automated, kept
    )


def _to_automation(session: Session, contact: Contact, now: datetime) -> tuple[int, int, int]:
    """Move the contact's active rep enrollments to the automated channel where the campaign's
    play automates mode C for the contact's segment; returns (moved, drafts cancelled, kept).

    The automated sequence picks up after the last email of the thread (by the rep or not), its
    spacing counted from when that one went out; the thread's open drafts are cancelled."""
    account = session.get(Account, contact.account_id)
    assert account is not None and contact.id is not None
    rows = session.exec(
        select(Enrollment, Campaign)
        .join(Campaign, col(Campaign.id) == Enrollment.campaign_id)
        .where(
            Enrollment.contact_id == contact.id,
            Enrollment.channel == Channel.REP,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    ).all()
    movable = [
        (enrollment, campaign)
        for enrollment, campaign in rows
        if automated_channel(
            OutreachMode.MARKETING, account.segment, sequence_of(campaign).automated_segments
        )
    ]
    if not movable:
        return 0, 0, 0
    if _request_open(session, contact.id):
        return 0, 0, len(movable)
    for enrollment, campaign in movable:
        assert enrollment.id is not None
        last = session.exec(
            select(Message.step, Message.sent_at)
            .where(Message.enrollment_id == enrollment.id)
            .order_by(col(Message.step).desc())
            .limit(1)
        ).first()
        step, last_at = (last[0] + 1, last[1]) if last else (1, None)
        schedule = schedule_for(campaign, sequence_of(campaign))
        enrollment.channel = Channel.AUTOMATED
        enrollment.next_step = step
        enrollment.next_due_at = schedule.next_due_at(
            step, last_at, enrollment.timezone or None, enrollment.first_day
        )
        if enrollment.next_due_at is None:
            enrollment.status = EnrollmentStatus.COMPLETED
        session.add(enrollment)
    session.flush()
    note = "outreach mode C: the automated sequence sends the rest"
    ids = [enrollment.id for enrollment, _ in movable if enrollment.id is not None]
    return len(movable), cancel_open_drafts(session, contact.id, note, now, ids), 0


def _request_open(session: Session, contact_id: int) -> bool:
    return (
        session.exec(
            select(ContactRequest.id).where(
                ContactRequest.contact_id == contact_id, col(ContactRequest.outcome).is_(None)
            )
        ).first()
        is not None
    )
