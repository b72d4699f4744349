"""One incoming mail through the whole pipeline: parse, classify, match, act (once).

`campaign inbox import` (files) and `campaign inbox poll` (IMAP) both call `process_isolated`:
whatever goes wrong with one message is that message's failure, counted against it (by a hash
of its bytes) so that it is tried at most MAX_ATTEMPTS times; the others are handled.
"""

from __future__ import annotations

import hashlib
import logging
import mailbox
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import select

from campaign_engine.core.config import Settings
from campaign_engine.core.errors import InvalidInput
from campaign_engine.inbound.actions import Handled, handle
from campaign_engine.inbound.classify import classify
from campaign_engine.inbound.parse import parse_mail
from campaign_engine.store.db import Database
from campaign_engine.store.inbound_tables import InboundFailure

__all__ = ["MAX_ATTEMPTS", "Failed", "mail_in_files", "process_isolated", "process_mail"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Failed:
    """A message that could not be handled: why (one line), and how often it was tried."""

    error: str
    attempts: int

    @property
    def given_up(self) -> bool:
        return self.attempts >= MAX_ATTEMPTS

    def __str__(self) -> str:
        if self.given_up:
            return f"not handled after {self.attempts} attempts ({self.error})"
        return f"not handled, attempt {self.attempts} of {MAX_ATTEMPTS} ({self.error})"


def process_isolated(
    db: Database, settings: Settings, raw: bytes, source: str, now: datetime
) -> Handled | Failed:
    """`process_mail`, but an error of this message is returned as its failure, never raised
    (only the database being unreachable is raised: that is no message's fault). A message
    that failed MAX_ATTEMPTS times is not tried again."""
    mail_hash = hashlib.sha256(raw).hexdigest()
    with db.session() as session:
        earlier = session.exec(
            select(InboundFailure).where(InboundFailure.mail_hash == mail_hash)
        ).first()
        if earlier is not None and earlier.attempts >= MAX_ATTEMPTS:
            return Failed(earlier.error, earlier.attempts)
    try:
        handled = process_mail(db, settings, raw, source, now)
    except OperationalError:
        raise
    except Exception as exc:
        log.info("inbox: %s could not be handled", source, exc_info=True)
        return _count_failure(db, mail_hash, _one_line(exc), source, now)
    if earlier is not None:
        with db.session() as session:
            session.delete(session.merge(earlier))
    return handled


def process_mail(
    db: Database, settings: Settings, raw: bytes, source: str, now: datetime
) -> Handled:
    """Handle one raw RFC 5322 message; the same message again changes nothing."""
    mail = parse_mail(raw)
    verdict = classify(mail, settings.unsubscribe_mailto)
    return handle(db, settings, mail, verdict, source, now)


def mail_in_files(paths: Iterable[Path]) -> Iterator[tuple[str, bytes]]:
    """(label, raw bytes) of every message in `.eml` files and mbox files (told apart by their
    first line: an mbox starts with 'From '). A missing or unreadable file is refused before
    any message is read."""
    paths = list(paths)
    for path in paths:
        if not path.is_file():
            raise InvalidInput(f"{path}: no such file")
    for path in paths:
        with path.open("rb") as handle:
            head = handle.read(5)
        if head == b"From ":
            box = mailbox.mbox(path, create=False)
            try:
                for index, key in enumerate(box.iterkeys(), start=1):
                    yield f"{path.name} #{index}", box.get_bytes(key)
            finally:
                box.close()
        else:
            yield path.name, path.read_bytes()


def _count_failure(db: Database, mail_hash: str, error: str, source: str, now: datetime) -> Failed:
    def counted() -> InboundFailure | None:
        with db.session() as session:
            return session.exec(
                select(InboundFailure).where(InboundFailure.mail_hash == mail_hash)
            ).first()

    try:
        with db.session() as session:
            row = counted() or InboundFailure(mail_hash=mail_hash)
            row.attempts += 1
            row.error, row.source, row.failed_at = error, source[:500], now
            session.add(row)
    except IntegrityError:  # another worker counted the same message a moment ago
        row = counted() or InboundFailure(mail_hash=mail_hash, attempts=1)
    return Failed(error, row.attempts)


def _one_line(exc: Exception) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
