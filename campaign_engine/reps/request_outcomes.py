"""The rep handled a contact request: meeting booked, not a fit, or no answer (recorded once)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from campaign_engine.core.errors import InvalidInput, NotFound
from campaign_engine.core.kinds import RequestOutcome
from campaign_engine.reps.drafts import rep_by_email
from campaign_engine.store.models import Account, Contact
from campaign_engine.store.request_tables import ContactRequest

__all__ = ["OUTCOMES", "mark_handled"]

OUTCOMES = tuple(RequestOutcome)


def mark_handled(
    session: Session,
    request_id: int,
    outcome: str,
    by: str,
    rep_email: str | None,
    now: datetime,
    note: str = "",
) -> ContactRequest:
    """Record how request `request_id` was handled; a rep (`rep_email`) only their own
    contacts' (else not found), ops (None) any."""
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be {', '.join(OUTCOMES)}; not {outcome!r}")
    request = session.get(ContactRequest, request_id)
    contact = session.get(Contact, request.contact_id) if request else None
    account = session.get(Account, contact.account_id) if contact else None
    mine = rep_email is None or (
        account is not None and account.rep_id == rep_by_email(session, rep_email).id
    )
    if request is None or not mine:
        raise NotFound(f"no contact request {request_id} among your contacts'")
    if request.outcome is not None:
        raise InvalidInput(
            f"request {request_id} was handled already: {request.outcome}"
            f" ({request.handled_by}, {request.handled_at:%Y-%m-%d %H:%M} UTC)"
        )
    request.outcome, request.handled_by, request.handled_at = outcome, by, now
    request.note = " ".join(note.split())[:500]
    session.add(request)
    session.flush()
    return request
