"""`campaign inbox import`: the fixture corpus read from files, acted on once."""

from __future__ import annotations

import json
import mailbox
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from campaign_engine.core.config import Settings
from campaign_engine.inbound.pipeline import process_mail
from campaign_engine.store.db import Database
from campaign_engine.store.models import Suppression
from tests.conftest import SmtpSink
from tests.helpers import campaign_cli, tick
from tests.inbound_expect import CORPUS, EMAIL_1, READ_AT, assert_engine_acted, kinds_recorded
from tests.inbound_fixtures import (
    inbound_settings_fixture,  # noqa: F401  (fixture)
    launched_fixture,  # noqa: F401  (fixture)
)
from tests.inbound_mail import fill


def test_the_corpus_from_eml_and_mbox_files_is_classified_matched_and_acted_on_once(
    launched: str, db: Database, inbound_settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    tick(db, inbound_settings, EMAIL_1)
    names = sorted(CORPUS)
    files = []
    for name in names[:7]:  # half as .eml files...
        path = tmp_path / name
        path.write_bytes(fill(db, name))
        files.append(path)
    box = mailbox.mbox(tmp_path / "exported.mbox")  # ...half in one mbox
    for name in names[7:]:
        box.add(fill(db, name))
    box.close()
    files.append(tmp_path / "exported.mbox")

    args = ["inbox", "import", *map(str, files), "--now", READ_AT.isoformat()]
    result = campaign_cli(inbound_settings, *args)
    assert result.returncode == 0, result.stderr
    assert (
        "applemail-reply-fr.eml: reply claire@petit.example (email 1, matched by in-reply-to)"
        in (" ".join(result.stdout.split()))
    )
    assert "forged-tag.eml: unmatched" in result.stdout
    expected: dict[str, int] = {}
    for kind in CORPUS.values():
        expected[kind] = expected.get(kind, 0) + 1
    assert kinds_recorded(db) == expected, result.stdout

    again = campaign_cli(inbound_settings, *args)  # the same mail again changes nothing
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already handled") == len(CORPUS)
    assert_engine_acted(db, inbound_settings, smtp_sink)

    report = campaign_cli(inbound_settings, "report", "--format", "json")
    assert report.returncode == 0, report.stderr
    (email_1, *_) = json.loads(report.stdout)["campaigns"][0]["steps"]
    figures = email_1["figures"]
    assert (figures["replies"], figures["auto_replies"], figures["complaints"]) == (4, 2, 2)
    assert (figures["bounced"], figures["contact_requests"], figures["unsubscribes"]) == (3, 4, 1)


def test_a_missing_file_is_refused_before_anything_is_read(
    launched: str, db: Database, inbound_settings: Settings, tmp_path: Path
) -> None:
    good = tmp_path / "a.eml"
    good.write_bytes(b"From: x@y.example\r\nSubject: hi\r\n\r\nhello\r\n")
    result = campaign_cli(inbound_settings, "inbox", "import", str(good), str(tmp_path / "no.eml"))
    assert result.returncode == 1
    assert "no.eml: no such file" in result.stderr
    assert kinds_recorded(db) == {}


def test_three_transient_failures_within_30_days_suppress_the_address(
    launched: str, db: Database, inbound_settings: Settings
) -> None:
    tick(db, inbound_settings, EMAIL_1)
    raw = fill(db, "gmail-dsn-soft.eml")
    outcomes = []
    for day in (1, 2, 3):
        again = raw.replace(b"delay.0001@", f"delay.{day:04}@".encode())  # a new report each day
        when = READ_AT + timedelta(days=day)
        outcomes.append(process_mail(db, inbound_settings, again, f"dsn {day}", when))
    assert [o.kind for o in outcomes] == ["soft_bounce"] * 3
    assert "transient failure 2 of 3" in outcomes[1].detail
    assert "3 transient failures in 30 days" in outcomes[2].detail
    with db.session() as session:
        (row,) = session.exec(select(Suppression)).all()
    assert (row.email, row.reason) == ("full@mailbox.example", "bounce")
