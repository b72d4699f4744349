"""Non-ASCII names and subjects reach the relay as RFC 2047 encoded words of at most 75
characters each (RFC 2047 section 2), on one line, and decode back to what was written: a
campaign email's From, a rep alert's Subject. Sent over real SMTP into aiosmtpd."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime
from email.header import decode_header, make_header
from pathlib import Path

from campaign_engine.core.config import Settings
from campaign_engine.engine.launch import launch
from campaign_engine.reps.contact_requests import record_contact_request
from campaign_engine.store.db import Database
from tests.conftest import SmtpSink
from tests.helpers import import_with_reps, tick, write_csv

DANA = "dana.reyes@gitlab-demo.example"
ADA = "ada@slask.example"
FIRST, LAST = "Józefina Małgorzata", "Śląska-Żółkiewska"
ACCOUNT = "Przedsiębiorstwo Wielobranżowe Śląsk Spółka Akcyjna Oddział Gliwice"
SENDER = "Zespół Sprzedaży Śląsk — Dział Obsługi Klientów Korporacyjnych"
_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2021, month, day, hour, minute, tzinfo=UTC)


def header_line(raw: bytes, name: bytes) -> bytes:
    (line,) = [h for h in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n") if h.startswith(name + b": ")]
    return line


def test_long_non_ascii_names_and_subjects_are_encoded_words_of_75_at_most(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    settings = dataclasses.replace(settings, from_address=f"{SENDER} <sales@gitlab-demo.example>")
    rows = [[ADA, FIRST, LAST, "CTO", ACCOUNT, "12", "", DANA, ""]]
    assert import_with_reps(db, write_csv(tmp_path / "t.csv", rows), at(4, 20)).rejected == []
    launch(db, settings, "premium-to-ultimate", date(2021, 4, 27), at(4, 20))
    tick(db, settings, at(4, 27, 9))
    record_contact_request(db, settings, at(4, 27, 10), email=ADA)
    tick(db, settings, at(4, 27, 10, 1))  # sends the rep's alert
    raws = {env.rcpt_tos[0]: env.original_content or b"" for env in smtp_sink.envelopes}
    for recipient, name, expected in (
        (ADA, b"From", SENDER),
        (DANA, b"Subject", f"{FIRST} {LAST}"),
    ):
        line = header_line(raws[recipient], name)
        words = _WORD.findall(line)
        assert line.isascii() and words and max(len(w) for w in words) <= 75, line
        # decoded as RFC 2047 says (the space between two encoded words is no text)
        value = line.decode("ascii").split(": ", 1)[1]
        assert expected in str(make_header(decode_header(value))), value
