"""`campaign inbox poll`: read new mail from the IMAP folder, handle it, move it away.

New mail is what has a UID above the one remembered for the folder (while its UIDVALIDITY
holds; a new UIDVALIDITY means read everything again). Handled mail is moved to
`processed_folder`, mail that names nothing we sent to `unmatched_folder`: never deleted. The
Message-ID keeps a message from being acted on twice even if it is moved back. A message that
fails is left where it is and tried again at the next poll, up to 3 times, then moved to
`failed_folder`; it never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from imaplib import IMAP4

from imap_tools import AND, BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import ImapToolsError, MailboxLoginError
from sqlmodel import select

from campaign_engine.core.config import InboxSettings, Settings
from campaign_engine.core.errors import ConfigError, TransportError
from campaign_engine.core.kinds import InboundKind
from campaign_engine.inbound.actions import Handled
from campaign_engine.inbound.pipeline import Failed, process_isolated
from campaign_engine.reps.alerts import send_alerts_now
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database
from campaign_engine.store.inbound_tables import InboxCursor

__all__ = ["PollReport", "check_login", "poll_in_background", "poll_inbox"]

log = logging.getLogger(__name__)


@dataclass
class PollReport:
    """What one poll did: each message's outcome, and the failures left for the next poll."""

    handled: list[tuple[str, Handled]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        counts = Counter(str(h.kind) for _, h in self.handled if not h.already)
        counts["already handled"] = sum(1 for _, h in self.handled if h.already)
        counts["failed"] = len(self.failed)
        return counts

    def __str__(self) -> str:
        counts = self.counts()
        return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()) if n) or "no new mail"


def poll_inbox(db: Database, settings: Settings, now: datetime) -> PollReport:
    """Handle every new message in the inbox folder once (blocking: run it in a thread)."""
    inbox = settings.inbox
    report = PollReport()
    with _connect(inbox) as mailbox:
        for folder in (inbox.processed_folder, inbox.unmatched_folder, inbox.failed_folder):
            if not mailbox.folder.exists(folder):
                mailbox.folder.create(folder)
        mailbox.folder.set(inbox.folder)
        validity = int(mailbox.folder.status(inbox.folder, ["UIDVALIDITY"])["UIDVALIDITY"])
        key = f"{inbox.username}@{inbox.host}/{inbox.folder}"
        last_uid = _cursor(db, key, validity)
        uids = sorted(int(uid) for uid in mailbox.uids(AND(all=True)) if int(uid) > last_uid)
        contiguous = True
        for uid in uids:
            label = f"{inbox.folder} uid {uid}"
            try:
                outcome = process_isolated(db, settings, _raw(mailbox, uid), f"imap {label}", now)
                if isinstance(outcome, Failed):
                    if outcome.given_up:
                        mailbox.move([str(uid)], inbox.failed_folder)
                        outcome_text = f"{outcome}; moved to {inbox.failed_folder}"
                    else:
                        outcome_text = f"{outcome}; left in place for the next poll"
                    report.failed.append((label, outcome_text))
                    contiguous = contiguous and outcome.given_up
                    continue
                unmatched = outcome.kind == InboundKind.UNMATCHED
                mailbox.move(
                    [str(uid)], inbox.unmatched_folder if unmatched else inbox.processed_folder
                )
            except (
                OSError,
                IMAP4.error,
                ImapToolsError,
            ) as exc:  # the server, not the message: next poll
                log.warning("inbox: %s could not be read or moved: %s", label, exc)
                report.failed.append((label, f"{type(exc).__name__}: {exc}; left in place"))
                contiguous = False
                continue
            report.handled.append((label, outcome))
            if contiguous:
                _advance(db, key, validity, uid, now)
    return report


async def poll_in_background(db: Database, settings: Settings) -> None:
    """One poll for `campaign run`, off the event loop; a failure is logged, never raised (the
    next poll tries again)."""
    try:
        report = await asyncio.to_thread(poll_inbox, db, settings, datetime.now(UTC))
    except Exception as exc:
        log.error("inbox poll failed: %s; trying again in %ss", exc, settings.inbox_poll_seconds)
        return
    log.info("inbox: %s", report)
    # A reply is a contact request: its alert goes now, not at the next tick.
    await send_alerts_now(db, settings, lambda: make_transport(settings), datetime.now(UTC))


def check_login(inbox: InboxSettings) -> str:
    """Log in and look at the folder; raises ConfigError or TransportError saying what failed."""
    with _connect(inbox) as mailbox:
        status = mailbox.folder.status(inbox.folder, ["MESSAGES"])
    return f"{inbox.username}@{inbox.host}:{inbox.port} logs in; {inbox.folder} holds {status['MESSAGES']} message(s)"


def _raw(mailbox: BaseMailBox, uid: int) -> bytes:
    """The message exactly as the server holds it (not parsed and written out again)."""
    status, data = mailbox.client.uid("FETCH", str(uid), "(BODY.PEEK[])")
    for item in data if status == "OK" else ():
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    raise IMAP4.error(f"FETCH of uid {uid} returned no message ({status})")


def _connect(inbox: InboxSettings) -> BaseMailBox:
    if not inbox.enabled:
        raise ConfigError("[inbox] host is not set: configure the reply mailbox first (README)")
    mailbox: BaseMailBox
    try:
        if inbox.use_tls:
            mailbox = MailBox(inbox.host, inbox.port, timeout=inbox.timeout)
        elif inbox.starttls:
            mailbox = MailBoxStartTls(inbox.host, inbox.port, timeout=inbox.timeout)
        else:
            mailbox = MailBoxUnencrypted(inbox.host, inbox.port, timeout=inbox.timeout)
    except OSError as exc:
        raise TransportError(
            f"inbox: cannot reach {inbox.host}:{inbox.port} ({exc}); check [inbox] host, port, use_tls"
        ) from exc
    try:
        return mailbox.login(inbox.username, inbox.password, initial_folder=None)
    except MailboxLoginError as exc:
        mailbox.logout()
        raise ConfigError(
            f"inbox: {inbox.host} refused the login of {inbox.username!r}; check [inbox] username"
            " and password (CAMPAIGN_INBOX_PASSWORD)"
        ) from exc


def _cursor(db: Database, key: str, validity: int) -> int:
    with db.session() as session:
        row = session.exec(select(InboxCursor).where(InboxCursor.mailbox == key)).first()
        if row is None or row.uidvalidity != validity:
            return 0
        return row.last_uid


def _advance(db: Database, key: str, validity: int, uid: int, now: datetime) -> None:
    with db.session() as session:
        row = session.exec(select(InboxCursor).where(InboxCursor.mailbox == key)).first()
        row = row or InboxCursor(mailbox=key)
        row.uidvalidity, row.last_uid, row.polled_at = validity, uid, now
        session.add(row)
