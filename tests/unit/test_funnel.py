"""The pure report computation on hand-made rows: edge cases the end-to-end test does not reach."""

from __future__ import annotations

from datetime import UTC, date, datetime

from campaign_engine.audience.csvfile import csv_safe
from campaign_engine.reporting.funnel import compute_report
from campaign_engine.reporting.report_model import (
    CampaignRow,
    ContactRow,
    EnrollmentRow,
    EventRow,
    MessageRow,
    ReportData,
    StageRow,
)
from campaign_engine.sending.eligibility import ExclusionRule
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


def at(day: int, hour: int) -> datetime:
    return datetime(2021, 4, day, hour, tzinfo=UTC)


def data(**rows: object) -> ReportData:
    base: dict[str, object] = {
        "campaigns": (CAMPAIGN,),
        "contacts": (
            ContactRow(1, "a@x.example", "SMB", "practitioner", None),
            ContactRow(2, "b@y.example", "SMB", "practitioner", None),
        ),
        "enrollments": (EnrollmentRow(1, 1, "automated"), EnrollmentRow(1, 2, "automated")),
        "messages": (
            MessageRow(10, 1, 1, 1, "automated", "sent", at(27, 0)),
            MessageRow(11, 1, 2, 1, "automated", "sent", at(27, 0)),
        ),
    }
    return ReportData(**{**base, **rows})  # type: ignore[arg-type]


def test_nobody_opened_means_no_click_to_open_rate() -> None:
    (c,) = compute_report(data(), NOW).campaigns
    assert (c.totals.sent, c.totals.delivered, c.totals.opens_unique, c.totals.ctor) == (
        2,
        2,
        0,
        None,
    )
    assert c.daily == [] and c.offers[0].click_rate == 0.0


def test_days_are_counted_in_the_campaign_time_zone_and_stray_events_ignored() -> None:
    events = (
        EventRow(1, "open", 10, at(27, 14)),  # 23:00 in Tokyo: Apr 27
        EventRow(2, "open", 10, at(27, 15)),  # 00:00 in Tokyo: Apr 28
        EventRow(3, "click", 11, at(27, 16), link_index=0),
        EventRow(4, "open", None, at(27, 16)),  # not tied to an email: not the campaign's
        EventRow(5, "open", 999, at(27, 16)),  # another campaign's message
    )
    (c,) = compute_report(data(events=events), NOW).campaigns
    assert [(d.day, d.opens, d.clicks) for d in c.daily] == [
        ("2021-04-27", 1, 0),
        ("2021-04-28", 1, 1),
    ]
    assert (c.totals.opens_total, c.totals.opens_unique, c.totals.clicks_unique) == (2, 2, 1)
    assert c.offers[0].url == "https://x.example/guide"


def test_exclusions_by_domain_and_campaign() -> None:
    rules = (
        ExclusionRule(None, "y.example", 1, "competitor"),
        ExclusionRule("a@x.example", None, 2, "other campaign only"),
    )
    (c,) = compute_report(data(exclusions=rules), NOW).campaigns
    assert c.totals.excluded == 1 and c.segments[0].figures.excluded == 1


def test_stage_durations_ignore_repeats_and_stages_before_the_campaign_are_not_its_sao() -> None:
    stages = (
        StageRow(1, 0, date(2021, 4, 28)),
        StageRow(1, 0, date(2021, 4, 30)),  # recorded again: still the same stay in stage 0
        StageRow(1, 1, date(2021, 5, 8)),
        StageRow(2, 1, date(2021, 4, 1)),  # SAO before the first email
        StageRow(2, 8, date(2021, 4, 11)),
    )
    (c,) = compute_report(data(stages=stages), NOW).campaigns
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
