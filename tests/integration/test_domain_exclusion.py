"""A domain exclusion stops mail to that domain only. README: "a `domain` column, or
`@acme.example` ... excludes every address at that domain": the part after the @ equals it, so
`notacme.example`, `acme.example.evil` and `sales.acme.example` (a domain of its own, excluded by
its own row) still get email 1. Uploaded through the real CLI, mail over real SMTP."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import select

from campaign_engine.audience.imports import import_contacts
from campaign_engine.core.config import Settings
from campaign_engine.engine.launch import launch
from campaign_engine.reporting.reports import load_report
from campaign_engine.store.db import Database
from campaign_engine.store.models import Message
from tests.conftest import SmtpSink
from tests.helpers import campaign_cli, tick, write_csv

REP = "dana.reyes@gitlab-demo.example"
EXCLUDED = "ada@acme.example"
STILL_MAILED = [
    "nia@notacme.example",
    "eve@acme.example.evil",
    "sam@sales.acme.example",
    "acme.example@other.example",
]


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2021, month, day, hour, tzinfo=UTC)


def test_acme_example_excludes_only_addresses_at_acme_example(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    rows = [
        [email, "First", "Last", "Developer", f"Account {n}", "12", "", REP, ""]
        for n, email in enumerate([EXCLUDED, *STILL_MAILED])
    ]
    assert import_contacts(db, write_csv(tmp_path / "c.csv", rows), at(4, 20)).rejected == []
    name = launch(db, settings, "premium-to-ultimate", date(2021, 4, 27), at(4, 20)).name

    domains = tmp_path / "domains.csv"
    domains.write_text("domain,reason\nacme.example,existing customer\n", encoding="utf-8")
    result = campaign_cli(settings, "exclude", str(domains), "--now", at(4, 21).isoformat())
    assert result.returncode == 0, result.stderr
    assert "1 contact(s) excluded (all campaigns); 1 new exclusion(s)" in " ".join(
        result.stdout.split()
    )

    tick(db, settings, at(4, 27, 9))
    received = sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages)
    assert received == sorted(STILL_MAILED)
    with db.session() as session:
        skipped = session.exec(
            select(Message.recipient, Message.state, Message.skip_reason).where(
                Message.state != "sent"
            )
        ).all()
        (report,) = load_report(session, at(4, 28)).campaigns
    assert skipped == [(EXCLUDED, "skipped", "excluded: existing customer")]
    assert report.name == name
    assert (report.totals.excluded, report.totals.sent) == (1, len(STILL_MAILED))
