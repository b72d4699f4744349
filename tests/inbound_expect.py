"""What the engine must have done after reading the whole fixture corpus (files or IMAP)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlmodel import col, select

from campaign_engine.core.config import Settings
from campaign_engine.store.db import Database
from campaign_engine.store.inbound_tables import InboundMail
from campaign_engine.store.models import Campaign, Enrollment, Suppression
from tests.conftest import SmtpSink
from tests.helpers import campaign_cli, text_of, tick
from tests.inbound_fixtures import DANA

EMAIL_1 = datetime(2021, 4, 27, 9, tzinfo=UTC)
READ_AT = datetime(2021, 4, 28, 8, tzinfo=UTC)
EMAIL_2 = datetime(2021, 5, 4, 9, tzinfo=UTC)

CORPUS = {
    "gmail-reply-en.eml": "reply",
    "outlook-reply-de.eml": "reply",
    "applemail-reply-fr.eml": "reply",
    "colleague-reply.eml": "reply",
    "exchange-ooo-de.eml": "auto_reply",
    "gmail-ooo-en.eml": "auto_reply",
    "postfix-dsn-hard.eml": "bounce",
    "exchange-ndr-hard.eml": "bounce",
    "exim-bounce-hard.eml": "bounce",
    "gmail-dsn-soft.eml": "soft_bounce",
    "yahoo-arf-complaint.eml": "complaint",
    "microsoft-arf-complaint.eml": "complaint",
    "mailto-unsubscribe.eml": "unsubscribe",
    "forged-tag.eml": "unmatched",
    "rep-reply-all.eml": "notice",  # the rep answering on the thread, our address in copy
}
REPLIED = ["ada@tiny.example", "hans@klein.example", "claire@petit.example", "pat@team.example"]


def kinds_recorded(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = session.exec(select(InboundMail.kind)).all()
    counts: dict[str, int] = {}
    for kind in rows:
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def assert_engine_acted(db: Database, settings: Settings, smtp_sink: SmtpSink) -> None:
    """Who left automation, who is suppressed, which alerts went out, that the first complaint
    paused the campaign (the brakes), who gets email 2 once it is resumed."""
    with db.session() as session:
        stopped = {
            e.contact_id: e.stop_reason
            for e in session.exec(select(Enrollment).where(Enrollment.status == "stopped"))
        }
        suppressed = dict(session.exec(select(Suppression.email, Suppression.reason)).all())
    assert suppressed == {
        "gone@nowhere.example": "bounce",
        "xch@corp.example": "bounce",
        "exim@old.example": "bounce",
        "angry@yahoo.example": "complaint",
        "cross@outlook.example": "complaint",
        "quit@tiny.example": "unsubscribe",
    }
    assert sorted(stopped.values()) == sorted(
        ["contact request"] * 4 + ["bounced"] * 3 + ["complaint"] * 2
    )
    # `inbox import` / `inbox poll` sent the alerts themselves, at once: no tick needed.
    alerts = [m for m in smtp_sink.to(DANA) if m["X-Campaign-Alert"] == "contact_request"]
    assert sorted(a["Reply-To"].addresses[0].addr_spec for a in alerts) == sorted(REPLIED)
    (ada,) = [a for a in alerts if "ada@tiny.example" in str(a["Reply-To"])]
    text = " ".join(text_of(ada).split())
    assert "Ada Lovelace replied to email 1" in text
    assert "Could we do Thursday afternoon?" in text
    assert "Premium today" not in text and "+1 555 0100" not in text  # history, signature
    assert "Recommended next step: " in text
    (hans,) = [a for a in alerts if "hans@klein.example" in str(a["Reply-To"])]
    assert "Passt Ihnen Donnerstag um 10 Uhr?" in " ".join(text_of(hans).split())
    assert "Von: Dana Reyes" not in text_of(hans)
    (pat,) = [a for a in alerts if "pat@team.example" in str(a["Reply-To"])]
    assert "the reply came from Sam Park <sam@team.example>" in text_of(pat)
    # The first complaint (1 of the minimum 100 sends: 1% ≥ 0.3%) paused the campaign.
    with db.session() as session:
        campaign = session.exec(select(Campaign)).one()
    assert campaign.paused and campaign.paused_by == "brakes"
    assert re.match(
        r"1 spam complaint in the last \d+ sends \(1% of the minimum 100 ≥ 0.3%\) — ",
        campaign.pause_reason or "",
    ), campaign.pause_reason
    resume = ["campaigns", "resume", campaign.name, "--now", READ_AT.isoformat()]
    assert campaign_cli(settings, *resume).returncode == 0
    tick(db, settings, READ_AT)  # the rest of that moment's rep mail (digests)
    smtp_sink.messages.clear()
    tick(db, settings, EMAIL_2)
    email_2 = sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages)
    assert email_2 == [
        "full@mailbox.example",  # one transient failure: still mailed
        "grace@tiny.example",  # out of office: stays in automation
        "otto@away.example",
    ]
    with db.session() as session:
        returns = session.exec(
            select(InboundMail.detail)
            .where(InboundMail.kind == "auto_reply")
            .order_by(col(InboundMail.address))
        ).all()
    assert [r.split(" (")[0] for r in returns] == ["back on 2021-05-03", "back on 2021-05-10"]
