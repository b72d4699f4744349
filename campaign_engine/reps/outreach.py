"""Per-contact outreach mode (A do nothing, B sales direct only, C marketing email)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from campaign_engine.audience.segments import parse_outreach_mode
from campaign_engine.core.config import Settings
from campaign_engine.core.errors import CampaignEngineError, NotFound
from campaign_engine.core.kinds import Channel, EnrollmentStatus, OutreachMode
from campaign_engine.reps.drafts import cancel_open_drafts, create_drafts_for_contact, rep_by_email
from campaign_engine.store.models import Account, Contact, Enrollment

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

    def summary(self) -> str:
        """One line: the change and what it did."""
        notes = []
        if self.handed_to_rep:
            notes.append(f"{self.handed_to_rep} automated enrollment(s) handed to the rep")
        if self.drafts_created:
            notes.append(f"{self.drafts_created} draft(s) created")
        if self.drafts_cancelled:
            notes.append(f"{self.drafts_cancelled} open draft(s) cancelled")
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
    A cancels their open drafts; C changes the mode only (running rep threads stay with the rep).
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
    handed, created, cancelled = 0, 0, 0
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
    return ModeChange(contact.email, old_mode, new_mode, handed, created, cancelled)
