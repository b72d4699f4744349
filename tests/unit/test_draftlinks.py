"""Draft links: lookalikes of campaign links are refused, registered ones get tracked."""

from __future__ import annotations

import pytest

from campaign_engine.reps.draftlinks import (
    CONTACT_PLACEHOLDER,
    DraftLinkError,
    check_links,
    fill_placeholders,
    text_to_html,
    track_links,
)

OFFER = "https://about.gitlab.com/webcast/x/?utm_source=gmail&utm_content=x"
OTHER = "https://learn.gitlab.com/c/chorus?x=1"
REGISTRY = {1: [OFFER], 2: [OTHER]}
BASE = "https://t.example"


@pytest.mark.parametrize(
    ("body", "sent"),
    [
        (f"see {OFFER}.", "see https://t.example/t/0."),
        (f'<a href="{OFFER.replace("&", "&amp;")}">x</a>', '<a href="https://t.example/t/0">x</a>'),
        (
            "book https://calendar.example/dana and {{contact_url}}",
            "book https://calendar.example/dana and https://t.example/c/page",
        ),
    ],
)
def test_allowed_links(body: str, sent: str) -> None:
    """Accepted as written; when sent, the offer is tracked and everything else left alone."""
    check_links(body, 1, REGISTRY, BASE)  # accepted: a refusal raises DraftLinkError
    filled = fill_placeholders(body, {CONTACT_PLACEHOLDER: f"{BASE}/c/page"})
    assert track_links(filled, REGISTRY[1], lambda index: f"{BASE}/t/{index}") == sent


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("https://about.gitlab.com/webcast/x/", "differs from it"),
        ("https://about.gitlab.com/webcast/x?utm_source=me", "differs from it"),
        (OFFER + "#top", "differs from it"),
        (OTHER, "link of email 2"),
        ("https://t.example/t/AAAA", "tracking link"),
        ("{{ offer.url }}", "unknown placeholder"),
    ],
)
def test_refused_links(body: str, message: str) -> None:
    with pytest.raises(DraftLinkError, match=message):
        check_links(body, 1, REGISTRY, BASE)


def test_track_links_rewrites_only_registered_urls_even_html_escaped() -> None:
    body = f'<a href="{OFFER.replace("&", "&amp;")}">{OFFER}</a> https://else.example/a'
    tracked = track_links(body, [OFFER], lambda index: f"https://t.example/t/{index}")
    assert (
        tracked
        == '<a href="https://t.example/t/0">https://t.example/t/0</a> https://else.example/a'
    )


def test_text_to_html_escapes_and_links() -> None:
    html = text_to_html(
        "Hi <b>Mia</b>,\n\nsee https://a.example/x?y=1&z=2\nthanks", "<p>f</p>", "S"
    )
    assert "Hi &lt;b&gt;Mia&lt;/b&gt;," in html
    assert '<a href="https://a.example/x?y=1&amp;z=2">' in html
    assert "<br>thanks" in html and html.count("<p") == 3
