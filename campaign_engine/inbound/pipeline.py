"""One incoming mail through the whole pipeline: parse, classify, match, act (once).

`campaign inbox import` (files) and `campaign inbox poll` (IMAP) both call `process_mail`.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from campaign_engine.core.config import Settings
from campaign_engine.core.errors import InvalidInput
from campaign_engine.inbound.actions import Handled, handle
from campaign_engine.inbound.classify import classify
from campaign_engine.inbound.parse import parse_mail
from campaign_engine.store.db import Database

__all__ = ["mail_in_files", "process_mail"]


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
