"""Rep drafts: created at launch for every rep-channel contact, listed, read and edited by reps.

Every function that acts for a rep takes the rep's email (None = operations, sees everything)
and answers "not found" for another rep's contacts, so a web app can call them as they are.
Sending lives in `repsend`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import jinja2
from sqlmodel import Session, col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.errors import CampaignEngineError, NotFound
from campaign_engine.core.kinds import Channel, DraftStatus, MessageState, OutreachMode, ThreadMark
from campaign_engine.core.tokens import TokenSigner
from campaign_engine.reps.draftlinks import (
    CONTACT_PLACEHOLDER,
    UNSUBSCRIBE_PLACEHOLDER,
    check_links,
)
from campaign_engine.reps.held import held_reason
from campaign_engine.sending.mime import check_header_value
from campaign_engine.sending.render import Company, LinkTracker, Recipient, Renderer, recipient_of
from campaign_engine.sending.sequences import Sequence, Step
from campaign_engine.store.models import (
    Account,
    Campaign,
    Contact,
    Draft,
    Enrollment,
    Message,
    Rep,
    ThreadOutcome,
)

__all__ = [
    "DONE_REASONS",
    "DraftRefused",
    "DraftView",
    "cancel_open_drafts",
    "create_campaign_drafts",
    "create_drafts_for_contact",
    "draft_row",
    "edit_draft",
    "get_draft",
    "list_drafts",
    "mark_done",
    "rep_by_email",
]

DONE_REASONS = tuple(ThreadMark)
_SENT_STATES = (MessageState.SENT, MessageState.UNCERTAIN)


class DraftRefused(CampaignEngineError):
    """The draft cannot be edited or sent now; the message says why."""


@dataclass(frozen=True)
class DraftView:
    """A draft with who it is for, as a rep sees it."""

    id: int
    campaign: str
    contact_email: str
    contact_name: str
    account: str
    segment: str
    rep_email: str
    step: int
    subject: str
    status: str
    status_note: str
    body_text: str
    footer_text: str
    edited_at: datetime | None
    sent_at: datetime | None
    message_id: int | None
    held: str = ""  # why it may not be sent now (unsubscribed, suppressed, excluded, mode A)

    def to_json(self, body: bool = True) -> dict[str, Any]:
        data = dict(self.__dict__)
        if not body:
            del data["body_text"], data["footer_text"]
        for key in ("edited_at", "sent_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def rep_by_email(session: Session, email: str) -> Rep:
    rep = session.exec(select(Rep).where(Rep.email == email.strip().lower())).first()
    if rep is None:
        raise NotFound(f"no rep with email {email!r}; import reps or contacts with owner_email")
    return rep


# -- creation -------------------------------------------------------------------------------


def create_campaign_drafts(
    session: Session, settings: Settings, campaign: Campaign, now: datetime
) -> list[Draft]:
    """Drafts of every step for each rep-channel contact of the campaign that has none yet (at
    launch, and for late joiners); returns those created."""
    assert campaign.id is not None
    return _create(session, settings, now, Enrollment.campaign_id == campaign.id)


def create_drafts_for_contact(
    session: Session, contact_id: int, now: datetime, settings: Settings
) -> int:
    """Hand a contact to their rep in every campaign they are in (after a contact request or a
    switch to mode B): their enrollments move to the rep channel, so the dispatcher never queues
    another automated step, and drafts are written for the steps not sent yet (at once: list
    views only read)."""
    enrollments = session.exec(select(Enrollment).where(Enrollment.contact_id == contact_id)).all()
    for enrollment in enrollments:
        if enrollment.channel != Channel.REP:
            enrollment.channel = Channel.REP
            enrollment.next_due_at = None
            session.add(enrollment)
    session.flush()
    return len(_create(session, settings, now, Enrollment.contact_id == contact_id))


def _create(session: Session, settings: Settings, now: datetime, where: Any) -> list[Draft]:
    rows = session.exec(
        select(Enrollment, Contact, Account, Rep, Campaign)  # type: ignore[call-overload]  # sqlmodel types up to 4
        .join(Contact, col(Contact.id) == Enrollment.contact_id)
        .join(Account, col(Account.id) == Contact.account_id)
        .join(Rep, col(Rep.id) == Account.rep_id, isouter=True)
        .join(Campaign, col(Campaign.id) == Enrollment.campaign_id)
        .where(
            where,
            (Enrollment.channel == Channel.REP)
            | (Contact.outreach_mode == OutreachMode.SALES_ONLY),
            Contact.outreach_mode != OutreachMode.DO_NOTHING,
        )
    ).all()
    if not rows:
        return []
    ids = [enrollment.id for enrollment, *_ in rows]
    taken = set(
        session.exec(
            select(Draft.enrollment_id, Draft.step).where(col(Draft.enrollment_id).in_(ids))
        ).all()
    )
    taken |= set(
        session.exec(
            select(Message.enrollment_id, Message.step).where(
                col(Message.enrollment_id).in_(ids), col(Message.state).in_(_SENT_STATES)
            )
        ).all()
    )
    renderers: dict[int, _DraftRenderer] = {}
    created: list[Draft] = []
    for enrollment, contact, account, rep, campaign in rows:
        assert campaign.id is not None and enrollment.id is not None and contact.id is not None
        if campaign.id not in renderers:
            renderers[campaign.id] = _DraftRenderer.for_campaign(settings, campaign)
        renderer = renderers[campaign.id]
        recipient = recipient_of(contact, account, rep)
        for step in renderer.sequence.steps:
            if (enrollment.id, step.number) in taken:
                continue
            subject, html, text, footer_text, footer_html = renderer.draft(step, recipient)
            created.append(
                Draft(
                    campaign_id=campaign.id,
                    enrollment_id=enrollment.id,
                    contact_id=contact.id,
                    rep_id=rep.id if rep else None,
                    step=step.number,
                    subject=subject,
                    body_text=text,
                    body_html=html,
                    footer_text=footer_text,
                    footer_html=footer_html,
                    status=DraftStatus.DRAFT,
                    created_at=now,
                )
            )
    session.add_all(created)
    session.flush()
    return created


class _DraftRenderer(Renderer):
    """Renders steps with the engine's own pages as placeholders and offer links untouched."""

    @classmethod
    def for_campaign(cls, settings: Settings, campaign: Campaign) -> _DraftRenderer:
        return cls(
            settings.templates_dir,
            Sequence.from_json(campaign.sequence_json),
            Company(settings.company_name, settings.postal_address),
            LinkTracker(TokenSigner(settings.secret), settings.tracking_base_url),
            link_registry=campaign.link_registry(),
        )

    def _context(
        self,
        step: Step,
        recipient: Recipient,
        message_id: int,
        unsubscribe_url: str,
        persona: str | None = None,
    ) -> dict[str, object]:
        context = super()._context(step, recipient, message_id, UNSUBSCRIBE_PLACEHOLDER, persona)
        context["contact_url"] = CONTACT_PLACEHOLDER
        return context

    def draft(self, step: Step, recipient: Recipient) -> tuple[str, str, str, str, str]:
        """subject, html, text without its footer, and the footer as text and HTML."""
        subject, html, text = self._render(step, recipient, 0, None, UNSUBSCRIBE_PLACEHOLDER)
        context = self._context(step, recipient, 0, UNSUBSCRIBE_PLACEHOLDER)
        footer_text, footer_html = (
            self._footer(f"_footer.{kind}.j2", context) for kind in ("txt", "html")
        )
        if footer_text and text.rstrip().endswith(footer_text.rstrip()):
            text = text.rstrip()[: -len(footer_text.rstrip())]
        if not footer_text:
            footer_text = (
                f"---\n{self.company.name}\n{self.company.postal_address}\n\n"
                f"Don't want these emails? Unsubscribe here:\n{UNSUBSCRIBE_PLACEHOLDER}\n"
            )
        return subject, html, text.rstrip() + "\n", footer_text, footer_html

    def _footer(self, name: str, context: dict[str, object]) -> str:
        try:
            return self.env.get_template(name).render(context)
        except jinja2.TemplateNotFound:
            return ""


# -- reading and editing ----------------------------------------------------------------------


def list_drafts(
    session: Session,
    rep_email: str | None = None,
    campaign: str | None = None,
    status: str | None = DraftStatus.DRAFT,
) -> list[DraftView]:
    """Drafts in campaign, contact and step order, each with why it is held (if it is); a rep
    gets only their own contacts'."""
    query = _views(session, rep_email).add_columns(held_reason(col(Draft.campaign_id)))
    if campaign:
        query = query.where(Campaign.name == campaign)
    if status:
        query = query.where(Draft.status == status)
    rows = session.exec(query.order_by(col(Campaign.id), col(Contact.email), col(Draft.step)))
    return [replace(_view(*row[:5]), held=row[5] or "") for row in rows]


def get_draft(session: Session, draft_id: int, rep_email: str | None = None) -> DraftView:
    return _view(*draft_row(session, draft_id, rep_email))


def draft_row(
    session: Session, draft_id: int, rep_email: str | None = None
) -> tuple[Draft, Campaign, Contact, Account, Rep | None]:
    """The draft with its campaign, contact, account and rep; not found for another rep's."""
    row = session.exec(_views(session, rep_email).where(Draft.id == draft_id)).first()
    if row is None:
        raise NotFound(f"no draft {draft_id}: list yours with `campaign drafts list`")
    return tuple(row)


def edit_draft(
    session: Session,
    settings: Settings,
    draft_id: int,
    rep_email: str | None,
    now: datetime,
    subject: str | None = None,
    body_text: str | None = None,
) -> DraftView:
    """Change the subject and/or the text; links are checked now, tracked when sent."""
    view = get_draft(session, draft_id, rep_email)
    if view.status != DraftStatus.DRAFT:
        raise DraftRefused(f"draft {draft_id} is {view.status}; only open drafts can be edited")
    draft = session.get(Draft, draft_id)
    assert draft is not None
    campaign = session.get(Campaign, draft.campaign_id)
    assert campaign is not None
    if subject is not None:
        subject = subject.strip()
        if not subject:
            raise DraftRefused("the subject must not be empty")
        try:
            check_header_value("Subject", subject)
        except ValueError:
            raise DraftRefused("the subject must be a single line") from None
        draft.subject = subject
    if body_text is not None:
        text = body_text.replace("\r\n", "\n")
        if text.rstrip().endswith(draft.footer_text.rstrip()):  # pasted from `drafts show`
            text = text.rstrip()[: -len(draft.footer_text.rstrip())]
        if not text.strip():
            raise DraftRefused("the body must not be empty")
        check_links(text, draft.step, campaign.link_registry(), settings.tracking_base_url)
        draft.body_text = text.rstrip() + "\n"
        draft.body_html = ""  # built from the edited text when sent
    draft.edited_at = now
    session.add(draft)
    session.flush()
    return get_draft(session, draft_id, rep_email)


def cancel_open_drafts(
    session: Session,
    contact_id: int,
    note: str,
    now: datetime,
    enrollment_ids: Collection[int] | None = None,
) -> int:
    """Cancel the contact's open drafts (only those of `enrollment_ids` when given)."""
    query = select(Draft).where(Draft.contact_id == contact_id, Draft.status == DraftStatus.DRAFT)
    if enrollment_ids is not None:
        query = query.where(col(Draft.enrollment_id).in_(enrollment_ids))
    drafts = session.exec(query).all()
    for draft in drafts:
        draft.status = DraftStatus.CANCELLED
        draft.status_note = note
        draft.edited_at = now
        session.add(draft)
    session.flush()
    return len(drafts)


def mark_done(
    session: Session,
    contact_email: str,
    rep_email: str | None,
    reason: str,
    now: datetime,
    note: str = "",
) -> ThreadOutcome:
    """The rep moved the thread to a meeting or an opportunity: no more next-step reminders,
    and the contact's open sequence drafts are closed (cancelled, saying why)."""
    if reason not in DONE_REASONS:
        raise DraftRefused(f"reason must be {' or '.join(DONE_REASONS)}, not {reason!r}")
    query = (
        select(Contact, Account)
        .join(Account, col(Account.id) == Contact.account_id)
        .where(Contact.email == contact_email.strip().lower())
    )
    rep = rep_by_email(session, rep_email) if rep_email else None
    if rep is not None:
        query = query.where(Account.rep_id == rep.id)
    row = session.exec(query).first()
    if row is None:
        raise NotFound(f"no contact {contact_email!r} among {'your' if rep else 'the'} contacts")
    contact, account = row
    assert contact.id is not None
    outcome = ThreadOutcome(
        contact_id=contact.id,
        rep_id=rep.id if rep else account.rep_id,
        reason=reason,
        note=note,
        created_at=now,
    )
    session.add(outcome)
    cancel_open_drafts(session, contact.id, f"thread moved to {reason} on {now:%Y-%m-%d}", now)
    return outcome


def _views(session: Session, rep_email: str | None) -> Any:
    query = (
        select(Draft, Campaign, Contact, Account, Rep)  # type: ignore[call-overload]  # sqlmodel types up to 4
        .join(Campaign, col(Campaign.id) == Draft.campaign_id)
        .join(Contact, col(Contact.id) == Draft.contact_id)
        .join(Account, col(Account.id) == Contact.account_id)
        .join(Rep, col(Rep.id) == Account.rep_id, isouter=True)
    )
    if rep_email is not None:
        # Ownership follows the account's current rep, so a re-assigned account moves with it.
        query = query.where(Account.rep_id == rep_by_email(session, rep_email).id)
    return query


def _view(
    draft: Draft, campaign: Campaign, contact: Contact, account: Account, rep: Rep | None
) -> DraftView:
    assert draft.id is not None
    return DraftView(
        id=draft.id,
        campaign=campaign.name,
        contact_email=contact.email,
        contact_name=f"{contact.first_name} {contact.last_name}".strip(),
        account=account.name,
        segment=account.segment,
        rep_email=rep.email if rep else "",
        step=draft.step,
        subject=draft.subject,
        status=draft.status,
        status_note=draft.status_note or "",
        body_text=draft.body_text,
        footer_text=draft.footer_text,
        edited_at=draft.edited_at,
        sent_at=draft.sent_at,
        message_id=draft.message_id,
    )
