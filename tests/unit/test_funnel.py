"""The pure report computation on hand-made rows: edge cases the end-to-end test does not reach."""

from __future__ import annotations

from datetime import UTC, date, datetime

from campaign_engine.audience.csvfile import csv_safe
from campaign_engine.reporting.funnel import compute_report
from campaign_engine.reporting.report_model import (
    Audience,
    CampaignRow,
    DayEngagement,
    Engagement,
    Group,
    GroupEngagement,
    Outcome,
    ReportCounts,
    RepRow,
    StageRow,
)
from campaign_engine.sending.sequences import Offer, Sequence, Step

NOW = datetime(2021, 6, 1, tzinfo=UTC)
SEQUENCE = Sequence(
    key="s",
    name="S",
    templates="s",
    steps=(
        Step(
            1, 0, "One", "email1", offers=(Offer("Guide", "https://x.example/guide?utm_source=a"),)
        ),
    ),
)
CAMPAIGN = CampaignRow(
    1, "C", SEQUENCE, {1: ["https://x.example/guide?utm_source=a"]}, date(2021, 4, 27), "Asia/Tokyo"
)
DEV = Group("SMB", "Developer", None)
CISO = Group("MM", "CISO", 7)


def counts(**rows: object) -> ReportCounts:
    base: dict[str, object] = {
        "campaigns": (CAMPAIGN,),
        "audience": (Audience(1, DEV, 2, touched=2),),
        "outcomes": (Outcome(1, 1, DEV, "automated", "delivered", 2),),
    }
    return ReportCounts(**{**base, **rows})  # type: ignore[arg-type]


def test_nobody_opened_means_no_click_to_open_rate() -> None:
    (c,) = compute_report(counts(), NOW).campaigns
    assert (c.totals.sent, c.totals.delivered, c.totals.opens_unique, c.totals.ctor) == (
        2,
        2,
        0,
        None,
    )
    assert c.daily == [] and c.offers[0].click_rate == 0.0
    assert c.offers[0].url == "https://x.example/guide"


def test_the_daily_series_starts_at_the_campaign_start_and_fills_quiet_days() -> None:
    days = (DayEngagement(1, date(2021, 4, 29), 2, 1, 1), DayEngagement(2, date(2021, 4, 1), 9))
    (c,) = compute_report(counts(days=days), NOW).campaigns
    assert [(d.day, d.opens, d.clicks, d.requests) for d in c.daily] == [
        ("2021-04-27", 0, 0, 0),
        ("2021-04-28", 0, 0, 0),
        ("2021-04-29", 2, 1, 1),
    ]


def test_contact_groups_add_up_to_the_campaign_its_segments_and_reps() -> None:
    rows = counts(
        audience=(Audience(1, DEV, 5, excluded=1), Audience(1, CISO, 3)),
        outcomes=(
            Outcome(1, 1, DEV, "automated", "delivered", 3),
            Outcome(1, 1, DEV, "automated", "bounced", 1),
            Outcome(1, 1, CISO, "rep", "bounced_later", 1),
            Outcome(1, 1, CISO, "rep", "delivered", 2),
            Outcome(1, 1, DEV, "automated", "excluded", 1),
        ),
        reps=(RepRow(7, "tomas@x.example", "Tomás"),),
        by_group=(
            GroupEngagement(1, DEV, Engagement(opens_total=4, openers=2, clickers=1)),
            GroupEngagement(1, CISO, Engagement(opens_total=1, openers=1, requesters=1)),
        ),
    )
    (c,) = compute_report(rows, NOW).campaigns
    t = c.totals
    assert (t.enrolled, t.excluded, t.sent, t.bounced, t.delivered) == (8, 1, 7, 2, 5)
    assert (t.opens_total, t.opens_unique, t.clicks_unique, t.ctor) == (5, 3, 1, 0.3333)
    assert [(s.segment, s.figures.enrolled, s.figures.sent, s.figures.opens_unique) for s in
            c.segments] == [("SMB", 5, 4, 2), ("MM", 3, 3, 1)]  # fmt: skip
    assert c.steps[0].figures.excluded == 1 and c.steps[0].figures.enrolled == 8
    assert [(r.name, r.contacts, r.drafts_sent, r.requests_received) for r in c.reps] == [
        ("Tomás", 3, 3, 1),
        ("(no rep)", 5, 0, 0),
    ]


def test_stage_durations_ignore_repeats_and_stages_before_the_campaign_are_not_its_sao() -> None:
    first = date(2021, 4, 27)
    stages = (
        StageRow(1, 1, DEV, first, 0, date(2021, 4, 28)),
        StageRow(1, 1, DEV, first, 0, date(2021, 4, 30)),  # again: the same stay in stage 0
        StageRow(1, 1, DEV, first, 1, date(2021, 5, 8)),
        StageRow(1, 2, DEV, first, 1, date(2021, 4, 1)),  # SAO before the first email
        StageRow(1, 2, DEV, first, 8, date(2021, 4, 11)),
    )
    (c,) = compute_report(counts(stages=stages), NOW).campaigns
    assert (c.touched, c.sao) == (2, 1)
    assert [(s.reached, s.current, s.average_days) for s in c.stages[:2]] == [
        (1, 0, 10.0),
        (2, 1, 10.0),
    ]


def test_csv_safe() -> None:
    assert [csv_safe(v) for v in ("=1+1", "+1", "-x", "@a", "\tx", "\rx", "ok", " =x")] == [
        "'=1+1",
        "'+1",
        "'-x",
        "'@a",
        "'\tx",
        "'\rx",
        "ok",
        " =x",
    ]
    assert [csv_safe(v) for v in (3, 0.5, None)] == ["3", "0.5", ""]
