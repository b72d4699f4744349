"""Bot rules: fixed inputs, no clock, no I/O."""

from __future__ import annotations

import pytest

from campaign_engine.tracking.bots import BotRules, Hit, Verdict, classify, proxy_note, scanner_name

RULES = BotRules(delay_seconds=10, burst_seconds=2)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


def click(agent: str = FIREFOX, method: str = "GET", since: float | None = 3600, **kw: int) -> Hit:
    return Hit(False, method, agent, since, **kw)


def test_a_browser_an_hour_after_delivery_is_a_person() -> None:
    assert classify(click(), RULES) == Verdict(True, None)


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        ("Mozilla/5.0 (compatible; Barracuda Sentinel)", "barracuda"),
        ("Mimecast-Link-Inspector/1.0", "mimecast"),
        ("Proofpoint URL Defense", "proofpoint"),
        (
            "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.4266; Pro)",
            "microsoft_office",
        ),
        ("Microsoft Office Existence Discovery", "microsoft_office"),
        ("python-requests/2.31", "http_library"),
        ("curl/8.5.0", "http_library"),
        ("Slackbot-LinkExpanding 1.0", "preview"),
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", "crawler"),
    ],
)
def test_known_scanners_gateways_and_previews(agent: str, name: str) -> None:
    assert scanner_name(agent) == name
    assert classify(click(agent), RULES) == Verdict(False, f"scanner:{name}")


def test_first_matching_rule_wins() -> None:
    assert classify(click(method="HEAD", since=1), RULES).reason == "head_request"
    assert classify(click("curl/8", since=1), RULES).reason == "scanner:http_library"
    assert classify(click(""), RULES).reason == "no_user_agent"


def test_apple_privacy_opens_are_counted_apart() -> None:
    assert classify(Hit(True, "GET", "Mozilla/5.0", 5), RULES) == Verdict(False, "apple_privacy")
    assert classify(click("Mozilla/5.0"), RULES).reason == "minimal_user_agent"


def test_gmail_image_proxy_opens_count_as_human_with_a_note() -> None:
    assert classify(Hit(True, "GET", GMAIL, 600), RULES) == Verdict(True, None)
    assert proxy_note(GMAIL) == "via gmail image proxy"
    assert proxy_note(FIREFOX) is None


@pytest.mark.parametrize(("since", "human"), [(None, False), (0, False), (9.9, False), (10, True)])
def test_hits_within_seconds_of_delivery_are_prefetches(since: float | None, human: bool) -> None:
    assert classify(click(since=since), RULES).is_human is human


def test_every_link_of_a_message_at_once_is_a_scanner() -> None:
    assert classify(click(links_hit=3, links_total=3), RULES) == Verdict(False, "all_links")
    assert classify(click(links_hit=2, links_total=3), RULES).is_human
    assert classify(click(links_hit=1, links_total=1), RULES).is_human  # one link: no evidence


def test_rules_refuse_negative_thresholds() -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        BotRules(delay_seconds=-1)
