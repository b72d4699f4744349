"""Digest entries from plain facts: order by value then recency, offer names, next steps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from campaign_engine.reps.digest_content import (
    CampaignInfo,
    EngagementFact,
    build_entries,
    offer_for_click,
    plain_url,
)
from campaign_engine.sending.sequences import load_sequence

ROOT = Path(__file__).resolve().parents[2]
SEQUENCE = load_sequence(ROOT / "sequences", "premium-to-ultimate")
OFFERS = [step.offers[0].url for step in SEQUENCE.steps]
CAMPAIGNS = {
    1: CampaignInfo(
        "Upsell",
        SEQUENCE,
        {n: [OFFERS[n - 1], "https://about.gitlab.com/pricing/"] for n in (1, 2, 3)},
    )
}
PEOPLE = {
    "ada": ("Ada", "Lovelace", "Software Engineer"),
    "grace": ("Grace", "Hopper", "CISO"),
    "hal": ("Hal", "Jordan", "Developer"),
    "ivy": ("Ivy", "Chen", "VP Engineering"),
}


def fact(
    event_id: int, who: str, kind: str, hour: int, step: int = 1, **extra: object
) -> EngagementFact:
    first, last, title = PEOPLE[who]
    return EngagementFact(
        event_id=event_id,
        kind=kind,
        occurred_at=datetime(2021, 4, 27, hour, tzinfo=UTC),
        contact_email=f"{who}@tiny.example",
        first_name=first,
        last_name=last,
        title=title,
        account="Tiny Co",
        segment="SMB",
        campaign_id=1,
        step=step,
        **{"channel": "automated", **extra},  # type: ignore[arg-type]
    )


def test_most_valuable_first_then_most_recent() -> None:
    facts = [
        fact(1, "ada", "open", 9),
        fact(2, "ivy", "open", 15),
        fact(3, "grace", "click", 10, link_index=0),
        fact(4, "hal", "contact_page", 11),
        fact(5, "ada", "click", 16, link_index=0),
        fact(6, "ivy", "contact_request", 12, note="Call me\nThursday"),
    ]
    entries = build_entries(facts, CAMPAIGNS)
    assert [e.name for e in entries] == ["Ivy Chen", "Hal Jordan", "Ada Lovelace", "Grace Hopper"]
    ivy = entries[0]
    assert [a.kind for a in ivy.activities] == ["contact_request", "open"]
    assert ivy.top.said is not None and ivy.top.said.message == "Call me\nThursday"
    assert ivy.next_step == "Reply today and run Meeting 1: assess business objectives."
    assert (ivy.persona, ivy.role) == ("management", "other")
    hal = entries[1]
    assert hal.next_step.startswith("Reach out personally")
    assert "Meeting 1: assess business objectives" in hal.next_step


def test_clicks_name_the_offer_and_fold_repeats_and_the_implied_open() -> None:
    facts = [
        fact(1, "ada", "open", 9, step=2),
        fact(2, "ada", "click", 10, step=2, link_index=0),
        fact(3, "ada", "click", 11, step=2, url=OFFERS[1]),
        fact(4, "ada", "click", 12, step=2, link_index=1),
    ]
    (ada,) = build_entries(facts, CAMPAIGNS)
    pricing, chorus = ada.activities  # most recent first
    assert chorus.offer_name == "How Chorus uses GitLab to power its development"
    assert chorus.count == 2 and chorus.last_at.hour == 11
    assert chorus.offer_url == "https://learn.gitlab.com/c/chorus-gitlab?x=h7zzhf"
    assert chorus.email == "Email 2 “Learn how to deploy to production 6x faster”"
    assert pricing.offer_name == "a link to about.gitlab.com/pricing"
    assert ada.next_step == (
        "Email 3 “No more afterthought security” goes out automatically; call while the offer is fresh."
    )
    (hal,) = build_entries([fact(5, "hal", "open", 9, channel="rep")], CAMPAIGNS)
    assert hal.next_step == "Send email 2 “Learn how to deploy to production 6x faster”."


def test_a_request_hides_the_contact_page_visit_before_it() -> None:
    facts = [fact(1, "hal", "contact_page", 9), fact(2, "hal", "contact_request", 10)]
    (hal,) = build_entries(facts, CAMPAIGNS)
    assert [a.kind for a in hal.activities] == ["contact_request"]


def test_last_email_and_stop_events() -> None:
    (ada,) = build_entries([fact(1, "ada", "open", 9, step=3)], CAMPAIGNS)
    assert ada.next_step == (
        "Sequence finished: follow up personally and offer Meeting 3: help them see the value (ROI)."
    )
    (grace,) = build_entries(
        [fact(1, "grace", "click", 9, link_index=0), fact(2, "grace", "unsubscribe", 10)], CAMPAIGNS
    )
    assert grace.next_step == "Do not email them again: they unsubscribed."
    entries = build_entries(
        [fact(1, "hal", "bounce", 9), fact(2, "ivy", "unsubscribe", 8), fact(3, "ada", "open", 7)],
        CAMPAIGNS,
    )
    assert [e.top.kind for e in entries] == ["open", "unsubscribe", "bounce"]


def test_offer_lookup_by_page_when_the_query_differs() -> None:
    step = SEQUENCE.step(1)
    offer = offer_for_click(step, [], None, "https://about.gitlab.com/webcast/automate-security-ci")
    assert offer.name.startswith("From DevOps to DevSecOps")
    assert plain_url(offer.url) == "https://about.gitlab.com/webcast/automate-security-ci/"


def test_an_out_of_office_shows_its_return_date_and_ranks_after_interest() -> None:
    facts = [
        fact(1, "grace", "auto_reply", 10, note="back on 2021-05-03"),
        fact(2, "hal", "open", 9),
    ]
    entries = build_entries(facts, CAMPAIGNS)
    assert [e.name for e in entries] == ["Hal Jordan", "Grace Hopper"]
    grace = entries[1]
    assert grace.top.label == "Out of office (back on 2021-05-03)"
    assert grace.top.said is None  # not shown as a message of theirs
    assert grace.next_step.startswith("They are away: follow up once they are back")
