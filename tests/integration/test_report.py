"""The campaign report end to end: a simulated campaign sent over real SMTP, events and stages
as the tracker and ops record them, and the exact numbers per campaign, email, segment, offer
and rep; the CSV, JSON and HTML exports of the same numbers."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from campaign_engine.audience.imports import import_reps
from campaign_engine.audience.privacy import forget_person
from campaign_engine.core.config import Settings
from campaign_engine.engine.launch import launch
from campaign_engine.reporting import report_queries
from campaign_engine.reporting.dashboard import FIGURE_COLUMNS, render_dashboard
from campaign_engine.reporting.report_export import to_csv, to_json
from campaign_engine.reporting.report_model import Figures, Report, report_to_dict
from campaign_engine.reporting.reports import due_reminder_counts, load_report
from campaign_engine.reporting.stages import record_stage
from campaign_engine.reps.repsend import send_draft
from campaign_engine.sending.campaigns import sequence_of
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database
from campaign_engine.store.models import (
    Campaign,
    Contact,
    Draft,
    Event,
    Exclusion,
    Message,
    Rep,
    StageChange,
)
from tests.conftest import SmtpSink
from tests.helpers import import_with_reps, tick, write_csv
from tests.report_reference import recounted_engagement
from tests.web import CHROMIUM, CHROMIUM_ARGS, serving

DANA = "dana.reyes@gitlab-demo.example"
TOMAS = "tomas.herrera@gitlab-demo.example"
START = date(2021, 4, 27)  # a Tuesday
NAME = "Personas spring"
CAMPAIGN = str(Path(sys.executable).parent / "campaign")
DEV_GUIDE = "A Developer's Guide to Application Security"
CI_FRONTIER = "CI the new frontier for Security pros"
DEVSECOPS = "From DevOps to DevSecOps: Automate your security tests with CI"
COMPLIANCE = "Compliance made easy with GitLab"


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2021, month, day, hour, minute, tzinfo=UTC)


def contact_id(db: Database, email: str) -> int:
    with db.session() as session:
        found = session.exec(select(Contact.id).where(Contact.email == email)).one()
        assert found is not None
        return found


def message_of(db: Database, email: str, step: int) -> Message:
    with db.session() as session:
        return session.exec(
            select(Message).where(Message.contact_id == contact_id(db, email), Message.step == step)
        ).one()


def event(
    db: Database, kind: str, who: str, when: datetime | None, step: int = 1, **extra: Any
) -> None:
    """An event row exactly as the tracking endpoints write it."""
    message = message_of(db, who, step)
    with db.session() as session:
        session.add(
            Event(
                kind=kind,
                message_id=message.id,
                contact_id=message.contact_id,
                occurred_at=when,
                **extra,
            )
        )


def link_index(db: Database, step: int, offer_name: str) -> int:
    with db.session() as session:
        campaign = session.exec(select(Campaign).where(Campaign.name == NAME)).one()
        offer = next(o for o in sequence_of(campaign).step(step).offers if o.name == offer_name)
        return int(json.loads(campaign.links_json)[str(step)].index(offer.url))


@pytest.fixture
def simulated(db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path) -> Database:
    """Seven SMB contacts get emails 1 and 2 over SMTP; two MM contacts get their rep's draft."""
    people = [
        ["ada@tiny.example", "Ada", "L", "Software Engineer", "Tiny Co", "12", "", DANA, ""],
        ["grace@tiny.example", "Grace", "H", "CISO", "Tiny Co", "12", "", DANA, ""],
        ["hal@small.example", "Hal", "J", "Developer", "Small Co", "30", "", DANA, ""],
        ["sam@small.example", "Sam", "S", "Developer", "Small Co", "30", "", DANA, ""],
        ["ivy@nyc.example", "Ivy", "C", "CISO", "NYC Co", "40", "", TOMAS, ""],
        ["bob@bounce.example", "Bob", "B", "Developer", "Bounce Co", "20", "", TOMAS, ""],
        ["xena@excl.example", "Xena", "X", "Developer", "Excl Co", "20", "", TOMAS, ""],
        ["mia@mid.example", "Mia", "M", "Architect", "Mid Co", "300", "", TOMAS, ""],
        ["max@mid.example", "Max", "M", "Developer", "Mid Co", "300", "", TOMAS, ""],
    ]
    reps = [[DANA, "Dana Reyes", "AE", "Europe/Berlin"], [TOMAS, "Tomás Herrera", "AE", "UTC"]]
    import_with_reps(db, write_csv(tmp_path / "contacts.csv", people), at(4, 20, 12))
    import_reps(db, write_csv(tmp_path / "reps.csv", reps, ["email", "name", "title", "timezone"]))
    launch(db, settings, "premium-to-ultimate-personas", START, at(4, 20, 12), name=NAME)
    with db.session() as session:
        session.add(Exclusion(email="xena@excl.example", reason="customer asked"))
        session.add(Exclusion(domain="tiny.example", reason="oops", removed_at=at(4, 21, 9)))
    smtp_sink.replies["bob@bounce.example"] = "550 5.1.1 no such user"
    tick(db, settings, at(4, 27, 9))
    tick(db, settings, at(5, 4, 9))
    # What arrived over SMTP: email 1 to five people (Bob bounced, Xena excluded), email 2 to
    # the same five (Bob is suppressed now).
    to = [str(m["To"].addresses[0].addr_spec) for m in smtp_sink.messages]
    received = sorted(a for a in to if a not in (DANA, TOMAS))  # reps also get digests
    assert received == sorted(
        2 * ["ada@tiny.example", "grace@tiny.example", "hal@small.example"]
        + 2 * ["sam@small.example", "ivy@nyc.example"]
    )
    # Tomás sends email 1 to Mia and Max from their drafts, through the engine, over SMTP.
    for who in ("mia@mid.example", "max@mid.example"):
        send_rep_draft(db, settings, who, at(5, 1, 9))
    assert {"mia@mid.example", "max@mid.example"} <= {
        str(m["To"].addresses[0].addr_spec) for m in smtp_sink.messages
    }
    engage(db)
    return db


def send_rep_draft(db: Database, settings: Settings, who: str, now: datetime) -> None:
    with db.session() as session:
        draft_id = session.exec(
            select(Draft.id).where(Draft.contact_id == contact_id(db, who), Draft.step == 1)
        ).one()
    assert draft_id is not None

    async def run() -> None:
        async with make_transport(settings) as transport:
            await send_draft(db, settings, transport, draft_id, TOMAS, now)

    asyncio.run(run())


def engage(db: Database) -> None:
    scanner = {"is_human": False, "bot_reason": "clicked within 2 s of delivery"}
    apple = {"is_human": False, "bot_reason": "apple_privacy"}
    guide, frontier = link_index(db, 1, DEV_GUIDE), link_index(db, 1, CI_FRONTIER)
    event(db, "open", "sam@small.example", at(4, 27, 9, 0), **scanner)
    event(db, "click", "sam@small.example", at(4, 27, 9, 0), link_index=guide, **scanner)
    event(db, "open", "ivy@nyc.example", at(4, 27, 9, 5), **apple)
    event(db, "open", "ada@tiny.example", at(4, 27, 10))
    event(db, "click", "ada@tiny.example", at(4, 27, 10, 5), link_index=guide)
    event(db, "open", "ada@tiny.example", at(4, 27, 15))
    event(db, "click", "ada@tiny.example", at(4, 28, 9), link_index=guide)
    event(db, "open", "grace@tiny.example", at(4, 27, 11))
    event(db, "click", "grace@tiny.example", at(4, 27, 11, 2), link_index=frontier)
    event(db, "contact_page", "grace@tiny.example", at(4, 27, 11, 5))
    # Hal's client blocks images: a click without an open still makes him an opener.
    with db.session() as session:
        campaign = session.exec(select(Campaign).where(Campaign.name == NAME)).one()
        guide_url = json.loads(campaign.links_json)["1"][guide]
    event(db, "click", "hal@small.example", at(4, 27, 12), url=guide_url)
    event(db, "contact_page", "hal@small.example", at(4, 27, 12))
    event(db, "contact_request", "hal@small.example", at(4, 27, 12, 1), note="call me")
    event(db, "open", "mia@mid.example", at(5, 1, 10))
    event(db, "contact_request", "mia@mid.example", at(5, 1, 10, 30))
    event(db, "open", "ada@tiny.example", at(5, 4, 10), step=2)
    event(db, "unsubscribe", "grace@tiny.example", at(5, 4, 12), step=2)
    event(db, "open", "ivy@nyc.example", at(5, 4, 13), step=2)
    compliance = link_index(db, 2, COMPLIANCE)
    event(db, "click", "ivy@nyc.example", at(5, 4, 13, 1), step=2, link_index=compliance)
    event(db, "bounce", "sam@small.example", at(5, 4, 9, 30), step=2, is_human=False)


def stages(db: Database) -> None:
    for email, stage, on in [
        ("ada@tiny.example", 0, date(2021, 4, 28)),
        ("ada@tiny.example", 1, date(2021, 5, 3)),
        ("ada@tiny.example", 2, date(2021, 5, 13)),
        ("hal@small.example", 1, date(2021, 4, 29)),
        ("hal@small.example", 8, date(2021, 5, 12)),
        ("grace@tiny.example", 1, date(2021, 4, 1)),  # before the campaign: not its SAO
        ("mia@mid.example", 0, date(2021, 5, 2)),  # max: no opportunity
    ]:
        record_stage(db, email, stage, on, at(5, 20, 9))


def figures(**values: Any) -> Figures:
    return Figures(**values)


def test_report_numbers_are_exact_per_campaign_step_segment_offer_and_rep(
    simulated: Database, settings: Settings
) -> None:
    db = simulated
    stages(db)
    with db.session() as session:
        campaign_id = session.exec(select(Campaign.id).where(Campaign.name == NAME)).one()
        report = load_report(
            session,
            at(5, 20, 9),
            # Max got email 1 from Tomás on May 1 and did nothing: email 2 is due (Mia asked
            # to be contacted, so no reminder for her).
            reminders=due_reminder_counts(at(5, 20, 9), settings.reminder_days),
        )
    assert campaign_id is not None
    (c,) = report.campaigns
    assert c.totals == figures(
        enrolled=9, sent=13, delivered=11, bounced=2, opens_unique=5, opens_total=6,
        apple_opens=1, clicks_unique=4, clicks_total=5, ctor=0.8, contact_page_visits=2,
        contact_requests=2, unsubscribes=1, excluded=1, scanner_opens=1, scanner_clicks=1,
    )  # fmt: skip
    step1, step2, step3 = (s.figures for s in c.steps)
    assert step1 == figures(
        enrolled=9, sent=8, delivered=7, bounced=1, opens_unique=4, opens_total=4,
        apple_opens=1, clicks_unique=3, clicks_total=4, ctor=0.75, contact_page_visits=2,
        contact_requests=2, unsubscribes=0, excluded=1, scanner_opens=1, scanner_clicks=1,
    )  # fmt: skip
    assert step2 == figures(
        enrolled=9, sent=5, delivered=4, bounced=1, opens_unique=2, opens_total=2,
        apple_opens=0, clicks_unique=1, clicks_total=1, ctor=0.5, contact_page_visits=0,
        contact_requests=0, unsubscribes=1, excluded=1, scanner_opens=0, scanner_clicks=0,
    )  # fmt: skip
    assert step3 == figures(enrolled=9, ctor=None)
    assert [(s.segment, s.figures.enrolled, s.figures.sent, s.figures.opens_unique,
             s.figures.contact_requests, s.figures.excluded) for s in c.segments] == [
        ("SMB", 7, 11, 4, 1, 1),
        ("MM", 2, 2, 1, 1, 0),
    ]  # fmt: skip
    assert [(o.step, o.name, o.persona, o.offered, o.clicks_unique, o.clicks_total, o.click_rate)
            for o in c.offers] == [
        (1, DEV_GUIDE, "practitioner", 5, 2, 3, 0.4),
        (1, CI_FRONTIER, "management", 2, 1, 1, 0.5),
        (2, DEVSECOPS, "practitioner", 2, 0, 0, 0.0),
        (2, COMPLIANCE, "management", 2, 1, 1, 0.5),
        (3, "Tired of afterthought security? Take a fresh look at GitLab Ultimate",
         "practitioner", 0, 0, 0, None),
        (3, "How Chorus uses GitLab to power its development", "management", 0, 0, 0, None),
    ]  # fmt: skip
    assert "utm_" not in c.offers[0].url
    assert [(r.rep, r.contacts, r.drafts_sent, r.reminders_pending, r.requests_received, r.sao)
            for r in c.reps] == [
        (DANA, 4, 0, 0, 1, 2),
        (TOMAS, 5, 2, 1, 1, 0),
    ]  # fmt: skip
    assert [(d.day, d.opens, d.clicks, d.requests) for d in c.daily] == [
        ("2021-04-27", 3, 3, 1),
        ("2021-04-28", 0, 1, 0),
        ("2021-04-29", 0, 0, 0),
        ("2021-04-30", 0, 0, 0),
        ("2021-05-01", 1, 0, 1),
        ("2021-05-02", 0, 0, 0),
        ("2021-05-03", 0, 0, 0),
        ("2021-05-04", 2, 1, 0),
    ]
    assert (c.touched, c.sao) == (7, 2)
    assert [(s.stage, s.name, s.reached, s.current, s.average_days) for s in c.stages] == [
        (0, "Pending Acceptance", 2, 1, 5.0),
        (1, "Discovery", 3, 1, 11.5),
        (2, "Scoping", 1, 1, None),
        (3, "Technical Evaluation", 0, 0, None),
        (4, "Proposal", 0, 0, None),
        (5, "Negotiating", 0, 0, None),
        (6, "Awaiting Signature", 0, 0, None),
        (7, "Closed Won", 0, 0, None),
        (8, "Lost", 1, 1, None),
    ]
    # The play's metrics: engagement and SAO per persona (the sequence's [personas] table maps
    # Software Engineer, Developer and Architect to practitioner, CISO to management), the
    # longest stage, and sends per recipient's local day (UTC here: no zones in the sheet).
    assert [(p.persona, p.titles, p.emailed, p.figures.opens_unique, p.open_rate,
             p.figures.clicks_unique, p.click_rate, p.figures.contact_requests, p.request_rate,
             p.sao, p.sao_rate) for p in c.personas] == [
        ("management", 1, 2, 2, 1.0, 2, 1.0, 0, 0.0, 0, 0.0),
        ("practitioner", 3, 5, 3, 0.6, 2, 0.4, 2, 0.4, 2, 0.4),
    ]  # fmt: skip
    assert [(p.persona, p.figures.enrolled, p.figures.sent, p.figures.excluded)
            for p in c.personas] == [("management", 2, 4, 0), ("practitioner", 7, 9, 1)]  # fmt: skip
    # ... and per buying role of the play's title table (CISO: economic buyer; the others are
    # not in the table: other).
    assert [(r.role, r.titles, r.emailed, r.figures.opens_unique, r.open_rate,
             r.figures.clicks_unique, r.figures.contact_requests, r.sao, r.sao_rate)
            for r in c.roles] == [
        ("economic buyer", 1, 2, 2, 1.0, 2, 0, 0, 0.0),
        ("other", 3, 5, 3, 0.6, 2, 2, 2, 0.4),
    ]  # fmt: skip
    assert c.longest_stage is not None
    assert (c.longest_stage.stage, c.longest_stage.name, c.longest_stage.average_days) == (
        1,
        "Discovery",
        11.5,
    )
    assert c.sent_per_local_day == {
        "2021-04-27": 5,
        "2021-05-01": 2,
        "2021-05-04": 5,
    }  # Bob: refused


def test_emails_stay_with_the_persona_and_offer_they_were_sent_as(simulated: Database) -> None:
    """Grace (CISO: management) got emails 1 and 2 with the management offers, then became a
    Developer: her emails still count as management's and as offers of the frontier guide;
    she is now enrolled as a practitioner."""
    with simulated.session() as session:
        grace = session.exec(select(Contact).where(Contact.email == "grace@tiny.example")).one()
        grace.title = "Developer"
        session.add(grace)
    with simulated.session() as session:
        (c,) = load_report(session, at(5, 20, 9)).campaigns
    assert [(o.step, o.name, o.offered, o.clicks_unique) for o in c.offers][:4] == [
        (1, DEV_GUIDE, 5, 2),
        (1, CI_FRONTIER, 2, 1),
        (2, DEVSECOPS, 2, 0),
        (2, COMPLIANCE, 2, 1),
    ]
    assert [(p.persona, p.figures.enrolled, p.figures.sent, p.figures.clicks_unique)
            for p in c.personas] == [("management", 1, 4, 2), ("practitioner", 8, 9, 2)]  # fmt: skip
    assert (c.totals.enrolled, c.totals.sent, c.totals.clicks_unique) == (9, 13, 4)


def test_report_from_counters_is_the_report_from_every_event(
    simulated: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engagement counters give byte for byte the report (JSON, CSV and dashboard) that
    counting every event gives, through repeat clicks of one offer by link and by URL, bots,
    Apple's privacy opens, requests, replies, complaints, a contact's title changed after the
    sends, an erased contact and an event without a time."""
    more = [
        ("click", "ada@tiny.example", at(5, 4, 11), 2, {"link_index": 0}),
        ("click", "ivy@nyc.example", at(5, 4, 13, 2), 2, {"link_index": 1}),
        ("click", "hal@small.example", at(4, 27, 12, 3), 1, {"link_index": 0}),
        ("reply", "ivy@nyc.example", at(5, 5, 8), 2, {"is_human": True}),
        ("auto_reply", "hal@small.example", at(5, 5, 8), 2, {"is_human": False}),
        ("complaint", "sam@small.example", at(5, 6, 8), 1, {"is_human": False}),
        ("open", "max@mid.example", None, 1, {}),
        ("click", "mia@mid.example", at(5, 1, 23, 30), 1, {"url": "https://elsewhere.example/x"}),
    ]
    for kind, who, when, step, extra in more:
        event(simulated, kind, who, when, step=step, **extra)  # type: ignore[arg-type]
    stages(simulated)
    with simulated.session() as session:
        grace = session.exec(select(Contact).where(Contact.email == "grace@tiny.example")).one()
        grace.title = "Developer"
        session.add(grace)
    forget_person(simulated, "ada@tiny.example", at(5, 10, 9))
    now = at(5, 20, 9)

    def outputs() -> tuple[str, str, str]:
        with simulated.session() as session:
            report = load_report(session, now)
        return to_json(report), to_csv(report), render_dashboard(report)

    from_counters = outputs()
    monkeypatch.setattr(report_queries, "_engagement", recounted_engagement)
    assert outputs() == from_counters
    assert '"clicks_unique": 3' in from_counters[0]


def page_numbers(html: str) -> dict[str, Any]:
    """Every number on the dashboard: data-path -> the JSON value it carries."""
    found = re.findall(r'data-path="([^"]+)" data-value="([^"]*)"', html)
    return {path: json.loads(value.replace("&#34;", '"')) for path, value in found}


def resolve(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def test_json_and_dashboard_show_the_same_numbers(simulated: Database) -> None:
    stages(simulated)
    with simulated.session() as session:
        report = load_report(session, at(5, 20, 9))
    data = json.loads(to_json(report))
    html = render_dashboard(report)
    numbers = page_numbers(html)
    assert len(numbers) > 150
    for path, value in numbers.items():
        assert resolve(data, path) == value, path
    totals = data["campaigns"][0]["totals"]
    assert {k for k in numbers if k.startswith("campaigns.0.totals.")} == {
        f"campaigns.0.totals.{k}" for k in totals
    }
    assert numbers["campaigns.0.totals.ctor"] == 0.8
    assert 'data-path="campaigns.0.totals.ctor" data-value="0.8">80.0%<' in html
    assert numbers["campaigns.0.personas.1.open_rate"] == 0.6
    assert numbers["campaigns.0.personas.1.sao"] == 2
    assert numbers["campaigns.0.sent_per_local_day.2021-05-04"] == 5
    assert "Visits per offer page" in html and "By persona" in html and "By role" in html
    assert (
        numbers["campaigns.0.roles.0.sao_rate"] == 0.0 and numbers["campaigns.0.roles.1.sao"] == 2
    )
    text = re.sub(r"<[^>]+>", "", html)
    assert "Longest stage: 1 Discovery, 11.5 days on average" in " ".join(text.split())
    assert html.count("<svg") == 2 and "<script" not in html and "http-equiv" not in html


def test_csv_neutralises_formula_injection(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    evil = [
        ["eve@evil.example", '=HYPERLINK("http://x")', "", "Dev", "+Evil Co", "10", "", DANA, ""]
    ]
    import_with_reps(db, write_csv(tmp_path / "c.csv", evil), at(4, 20, 12))
    with db.session() as session:
        rep = session.exec(select(Rep).where(Rep.email == DANA)).one()
        rep.name = "@SUM(1+1)<script>alert(1)</script>"
        session.add(rep)
    launch(db, settings, "premium-to-ultimate", START, at(4, 20, 12), name="=cmd|' /C calc'!A0")
    with db.session() as session:
        report = load_report(session, at(5, 20, 9))
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    cells = [cell for row in rows for cell in row.values()]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert rows[0]["campaign"] == "'=cmd|' /C calc'!A0"
    rep_row = next(row for row in rows if row["section"] == "rep")
    assert rep_row["name"] == "'@SUM(1+1)<script>alert(1)</script>"
    page = render_dashboard(report)
    assert "<script>" not in page and "@SUM(1+1)&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "=cmd|&#39; /C calc&#39;!A0" in page
    assert rows[0]["section"] == "campaign" and rows[0]["enrolled"] == "1"


def run_cli(settings: Settings, *args: str, columns: int = 250) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CAMPAIGN, "--config", str(settings.config_path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": str(columns)},
    )


def test_report_and_stages_commands(
    simulated: Database, settings: Settings, tmp_path: Path
) -> None:
    done = run_cli(
        settings, "stages", "set", "ada@tiny.example", "1 - Discovery", "--at", "2021-05-03"
    )
    assert done.returncode == 0, done.stderr
    assert "ada@tiny.example: 1 - Discovery on 2021-05-03 (recorded)" in done.stdout
    bad = run_cli(settings, "stages", "set", "ada@tiny.example", "Qualified")
    assert bad.returncode == 2 and "'Qualified' is not a sales stage" in bad.stderr
    missing = run_cli(settings, "stages", "set", "nobody@x.example", "2")
    assert missing.returncode == 1 and "no contact 'nobody@x.example'" in missing.stderr
    sheet = tmp_path / "stages.csv"
    sheet.write_text(
        "email,stage,date\n"
        "hal@small.example,Discovery,2021-04-29\n"
        "ada@tiny.example,1,2021-05-03\n"
        "nobody@x.example,2,2021-05-03\n"
        "hal@small.example,9,2021-05-03\n"
        "hal@small.example,8,May 12\n"
        "hal@small.example,Lost,2021-05-12\n",
        encoding="utf-8",
    )
    imported = run_cli(settings, "stages", "import", str(sheet))
    assert imported.returncode == 1
    assert "2 stage changes created, 0 updated, 1 unchanged, 3 rejected" in imported.stdout
    assert f"{sheet}:4: email: no contact 'nobody@x.example'" in imported.stderr
    assert f"{sheet}:5: stage: '9' is not a sales stage" in imported.stderr
    assert f"{sheet}:6: date: 'May 12' is not a date (YYYY-MM-DD)" in imported.stderr
    with simulated.session() as session:
        assert len(session.exec(select(StageChange)).all()) == 3

    as_json = run_cli(settings, "report", "--campaign", NAME, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    (c,) = json.loads(as_json.stdout)["campaigns"]
    assert (c["totals"]["sent"], c["totals"]["ctor"], c["sao"]) == (13, 0.8, 2)
    assert [r["reminders_pending"] for r in c["reps"]] == [0, 1]  # from the real reminders
    # The message states (queued/sent/failed/skipped and why) ride along, per step.
    delivery = {step["step"]: step["states"] for step in c["delivery"]["steps"]}
    for step in c["steps"]:
        states = delivery[step["step"]]
        assert states["sent"] + states["bounced"] == step["figures"]["sent"]

    table = run_cli(settings, "report")
    assert table.returncode == 0, table.stderr
    assert "9 enrolled, 7 emailed, SAO 2" in table.stdout
    assert "Longest stage: 1 Discovery, 13 days on average" in table.stdout  # Hal: 1 -> 8
    by_persona = table.stdout[table.stdout.index("By persona") :]
    assert re.search(
        r"management +│ +1 │ +2 │ +2 │ +100.0% │ +2 │ +100.0% │ +0 │ +0.0% │ +0 │", by_persona
    )
    assert re.search(
        r"practitioner +│ +3 │ +5 │ +3 │ +60.0% │ +2 │ +40.0% │ +2 │ +40.0% │ +2 │", by_persona
    )
    visits = table.stdout[table.stdout.index("Visits per offer page") :]
    assert re.search(re.escape(DEV_GUIDE) + r" +│ +5 │ +2 │ +3 │ +40.0%", visits)
    assert "1 Apple privacy opens, 1 scanner opens, 1 scanner clicks" in table.stdout
    assert DEV_GUIDE in table.stdout and "80.0%" in table.stdout
    for columns in (80, 120):  # a terminal: headers and addresses whole, nothing cut with "…"
        narrow = run_cli(settings, "report", columns=columns)
        assert narrow.returncode == 0, narrow.stderr
        assert "…" not in narrow.stdout
        funnel = narrow.stdout[narrow.stdout.index("Funnel") : narrow.stdout.index("By persona")]
        assert max(len(line) for line in funnel.splitlines()) <= columns, funnel
        first_column = " ".join(
            line.split("│")[1].strip() for line in funnel.splitlines() if line.startswith("│")
        )
        for _, label in FIGURE_COLUMNS:  # a label may wrap between its words, never inside
            assert label in first_column, (label, funnel)
        for rep in c["reps"]:  # rep addresses are never folded across lines
            assert rep["rep"] in narrow.stdout, (rep, narrow.stdout)

    page = tmp_path / "dashboard.html"
    written = run_cli(settings, "report", "--format", "html", "--out", str(page))
    assert written.returncode == 0, written.stderr
    assert page_numbers(page.read_text(encoding="utf-8"))["campaigns.0.totals.sent"] == 13
    exported = tmp_path / "report.csv"
    assert run_cli(settings, "report", "--format", "csv", "--out", str(exported)).returncode == 0
    assert exported.read_text(encoding="utf-8").startswith("campaign,section,item,enrolled,")
    rows = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8"))))
    practitioner = next(r for r in rows if (r["section"], r["item"]) == ("persona", "practitioner"))
    assert (practitioner["emailed"], practitioner["open_rate"], practitioner["sao"]) == (
        "5",
        "0.6",
        "2",
    )
    longest = next(r for r in rows if r["section"] == "longest stage")
    assert (longest["item"], longest["average_days"]) == ("1 - Discovery", "13.0")
    local = {r["item"]: r["sent"] for r in rows if r["section"] == "sent per local day"}
    assert local == {"2021-04-27": "5", "2021-05-01": "2", "2021-05-04": "5"}

    unknown = run_cli(settings, "report", "--campaign", "nope")
    assert unknown.returncode == 1 and "no campaign named 'nope'" in unknown.stderr
    status = run_cli(settings, "status", "--format", "json")
    assert status.returncode == 0 and json.loads(status.stdout)[0]["name"] == NAME


def test_empty_report(db: Database) -> None:
    with db.session() as session:
        report = load_report(session, at(5, 20, 9))
    assert report == Report(generated_at="2021-05-20T09:00:00+00:00", campaigns=[])
    assert report_to_dict(report) == {"generated_at": "2021-05-20T09:00:00+00:00", "campaigns": []}
    assert "No campaigns yet." in render_dashboard(report)


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@contextmanager
def serve_dashboard(db: Database, now: datetime) -> Iterator[str]:
    """The dashboard over a real loopback socket: a tiny Starlette app on uvicorn in a thread."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    def current() -> Report:
        with db.session() as session:
            return load_report(session, now)

    async def dashboard(request: Request) -> HTMLResponse:
        return HTMLResponse(render_dashboard(current()))

    async def as_json(request: Request) -> JSONResponse:
        return JSONResponse(report_to_dict(current()))

    with serving(
        Starlette(routes=[Route("/dashboard", dashboard), Route("/report.json", as_json)])
    ) as url:
        yield url


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is absent: `make test` installs Debian's chromium when run as root",
)
def test_dashboard_in_chromium_shows_the_report_figures(
    simulated: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"
    )  # Debian's chromium, never a download
    from playwright.sync_api import sync_playwright

    stages(simulated)
    with serve_dashboard(simulated, at(5, 20, 9)) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            data = page.goto(f"{base}/report.json")
            assert data is not None and data.ok
            expected = data.json()
            response = page.goto(f"{base}/dashboard")
            assert response is not None and response.status == 200

            def shown(path: str) -> str:
                return page.locator(f'[data-path="{path}"]').inner_text()

            assert page.locator("h2").all_inner_texts() == [NAME]
            assert shown("campaigns.0.totals.sent") == "13"
            assert shown("campaigns.0.totals.delivered") == "11"
            assert shown("campaigns.0.totals.opens_unique") == "5"
            assert shown("campaigns.0.totals.clicks_unique") == "4"
            assert shown("campaigns.0.totals.ctor") == "80.0%"
            assert shown("campaigns.0.totals.apple_opens") == "1"
            assert shown("campaigns.0.sao") == "2"
            assert shown("campaigns.0.steps.0.figures.ctor") == "75.0%"
            assert shown("campaigns.0.offers.0.clicks_total") == "3"
            assert shown("campaigns.0.reps.1.drafts_sent") == "2"
            assert shown("campaigns.0.stages.1.average_days") == "11.5"
            on_page = page.eval_on_selector_all(
                "[data-path]", "els => els.map(e => [e.dataset.path, e.dataset.value])"
            )
            assert len(on_page) > 150
            for path, value in on_page:
                assert resolve(expected, path) == json.loads(value), path
            charts = page.locator("svg")
            assert charts.count() == 2
            for index in range(2):
                box = charts.nth(index).bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 150
            assert page.locator("svg polyline").count() == 3  # opens, clicks, requests
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
