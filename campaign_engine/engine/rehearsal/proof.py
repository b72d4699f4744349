"""Test-sending a rehearsal's sample emails to an address of the operator's choosing.

The email is the one the rehearsal rendered for the sample contact, addressed to the test
address instead (envelope and To), its subject marked "[Rehearsal]"; its links are signed with
the rehearsal's own key, so nothing a tester clicks counts anywhere.
"""

from __future__ import annotations

import email
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP, default
from email.utils import parseaddr
from pathlib import Path

from campaign_engine.audience.addresses import clean_email
from campaign_engine.core.config import Settings
from campaign_engine.core.errors import InvalidInput
from campaign_engine.engine.rehearsal.model import SampleEmail
from campaign_engine.sending.mime import wire_address
from campaign_engine.sending.transport import Delivery, Outcome, Transport

__all__ = ["PREFIX", "SampleParts", "sample_parts", "send_proofs"]

PREFIX = "[Rehearsal] "


async def send_proofs(
    settings: Settings,
    transport: Transport,
    directory: Path,
    samples: list[SampleEmail],
    to: str,
) -> list[Outcome]:
    """Send each automated sample (its .eml in `directory`) to `to` through `transport`."""
    address = _checked(to)
    wire = wire_address(address)
    sender = parseaddr(settings.from_address)[1]
    deliveries = [
        Delivery(
            n,
            sender,
            wire.address,
            _readdressed((directory / s.eml).read_bytes(), address),
            smtputf8=wire.smtputf8,
        )
        for n, s in enumerate(samples)
        if s.eml
    ]
    async with transport:
        return await transport.deliver(deliveries)


@dataclass(frozen=True)
class SampleParts:
    """What the console shows of a sample email."""

    subject: str
    sender: str
    reply_to: str
    html: str
    text: str


def sample_parts(raw: bytes) -> SampleParts:
    message = email.message_from_bytes(raw, _class=EmailMessage, policy=default)
    html, text = message.get_body(("html",)), message.get_body(("plain",))
    return SampleParts(
        str(message["Subject"] or ""),
        str(message["From"] or ""),
        str(message["Reply-To"] or ""),
        str(html.get_content()) if html is not None else "",
        str(text.get_content()) if text is not None else "",
    )


def _checked(to: str) -> str:
    try:
        return clean_email(to)
    except ValueError as exc:
        raise InvalidInput(f"test address {to!r}: {exc}") from None


def _readdressed(raw: bytes, to: str) -> bytes:
    message = email.message_from_bytes(raw, _class=EmailMessage, policy=SMTP)
    subject = str(message["Subject"] or "")
    del message["To"], message["Subject"]
    message["To"] = to
    message["Subject"] = PREFIX + subject
    return message.as_bytes(policy=SMTP)
