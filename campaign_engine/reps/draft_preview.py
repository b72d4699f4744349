"""A draft as its recipient would see it, before it is sent: the HTML preview the web app shows in
a sandboxed frame, and a test copy mailed to the rep.

A test copy is not a campaign send: no message row, no tracking token, nothing counted; its
links are the plain offer URLs and the engine's pages are shown as "#" placeholders.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from email.utils import format_datetime, parseaddr

from sqlmodel import Session

from campaign_engine.core.config import Settings
from campaign_engine.core.errors import TransientSendError
from campaign_engine.reps.draftlinks import PLACEHOLDERS, fill_placeholders, text_to_html
from campaign_engine.reps.drafts import draft_row
from campaign_engine.sending.mime import build_mime, format_address
from campaign_engine.sending.transport import Delivery, Transport
from campaign_engine.store.models import Draft

__all__ = ["TEST_PREFIX", "build_test_copy", "preview_html", "preview_text", "send_test_copy"]

TEST_PREFIX = "[TEST] "
_NOWHERE = dict.fromkeys(PLACEHOLDERS, "#")


def preview_text(draft: Draft) -> str:
    body = fill_placeholders(draft.body_text, _NOWHERE)
    return body.rstrip() + "\n\n" + fill_placeholders(draft.footer_text, _NOWHERE)


def preview_html(draft: Draft) -> str:
    """The HTML part as it will look (links untracked, the engine's pages as '#')."""
    if draft.body_html:
        return fill_placeholders(draft.body_html, _NOWHERE)
    body = fill_placeholders(draft.body_text, _NOWHERE)
    return text_to_html(body, fill_placeholders(draft.footer_html, _NOWHERE), draft.subject)


def build_test_copy(
    session: Session,
    settings: Settings,
    draft_id: int,
    rep_email: str | None,
    to: str,
    now: datetime,
) -> Delivery:
    """A test copy of the draft for `to` (the logged-in user), ready for `send_test_copy`."""
    draft, _campaign, contact, _account, rep = draft_row(session, draft_id, rep_email)
    sender = parseaddr(settings.from_address)[1]
    domain = sender.rsplit("@", 1)[-1] or "localhost"
    subject = TEST_PREFIX + draft.subject
    intro = f"Test copy of draft {draft_id} for {contact.email}; not sent to the contact.\n\n"
    raw = build_mime(
        from_header=format_address(rep.email, rep.name) if rep else settings.from_address,
        to_header=format_address(to),
        subject=subject,
        html=preview_html(draft),
        text=intro + preview_text(draft),
        message_id=f"<test.{secrets.token_hex(8)}@{domain}>",
        date=format_datetime(now),
        extra_headers=[("Sender", format_address(settings.from_address))],
    )
    return Delivery(0, sender, to, raw)


async def send_test_copy(transport: Transport, copy: Delivery) -> None:
    (outcome,) = await transport.deliver([copy])
    if not outcome.ok:
        raise TransientSendError(
            f"the relay did not take the test copy to {copy.recipient}: {outcome.detail}"
        )
