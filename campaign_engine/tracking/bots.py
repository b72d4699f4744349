"""PURE bot classification: is this hit on a tracked link or pixel a person, or a machine?

Link scanners, mail-security gateways and privacy proxies fetch links and images before (or
instead of) the person. Their hits are recorded but flagged (`is_human=False`, `bot_reason`) so
they count neither as human opens/clicks nor as contact requests. Rules, first match wins:

| reason | rule |
|---|---|
| `head_request` | a HEAD request (browsers GET; scanners probe) |
| `scanner:<name>` | a known scanner, gateway or preview user agent (Barracuda, Mimecast...) |
| `no_user_agent` | no User-Agent at all |
| `apple_privacy` | an open whose User-Agent is exactly `Mozilla/5.0` (Apple Mail Privacy Protection) |
| `minimal_user_agent` | a click whose User-Agent is exactly `Mozilla/5.0` |
| `too_soon` | within `delay_seconds` of delivery (or before the send was even recorded) |
| `all_links` | every link of the message hit within `burst_seconds` |

Gmail's image proxy (`GoogleImageProxy`) fetches the pixel when the person opens the message,
so its opens count as human, with `note="via gmail image proxy"`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["BotRules", "Hit", "Verdict", "classify", "proxy_note"]

APPLE_PRIVACY_UA = "Mozilla/5.0"

# (name, pattern): user agents that are never a person reading mail.
_SCANNERS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("barracuda", r"barracuda"),
        ("mimecast", r"mimecast"),
        ("proofpoint", r"proofpoint|ppops"),
        ("microsoft_office", r"microsoft office|ms-office|msoffice|microsoft\.?outlook.*preview"),
        ("safelinks", r"safelinks|microsoft\s*atp|defender"),
        ("ironport", r"ironport|cisco"),
        ("symantec", r"symantec|messagelabs|broadcom"),
        ("forcepoint", r"forcepoint|websense"),
        ("trendmicro", r"trend\s*micro"),
        ("sophos", r"sophos"),
        ("fireeye", r"fireeye|trellix"),
        ("zscaler", r"zscaler"),
        ("yahoo_proxy", r"yahoomailproxy"),
        ("preview", r"slackbot|facebookexternalhit|linkedinbot|twitterbot|skypeuripreview"),
        ("headless", r"headlesschrome|phantomjs|puppeteer|playwright"),
        ("http_library", r"python-requests|python-urllib|aiohttp|httpx|curl/|wget|go-http-client"),
        ("http_library", r"java/|okhttp|libwww-perl|node-fetch|axios/|scrapy"),
        ("crawler", r"bot\b|bot/|spider|crawler|scanner|preview|monitor"),
    )
)
_GMAIL_PROXY = re.compile(r"googleimageproxy", re.IGNORECASE)


@dataclass(frozen=True)
class BotRules:
    """Timing thresholds of the machine rules (seconds)."""

    delay_seconds: float = 10.0  # hits this soon after delivery are pre-fetches
    burst_seconds: float = 2.0  # every link of a message hit within this span is a scanner

    def __post_init__(self) -> None:
        if self.delay_seconds < 0 or self.burst_seconds < 0:
            raise ValueError(f"bot thresholds must be >= 0 seconds, got {self}")


@dataclass(frozen=True)
class Hit:
    """What the edge saw, reduced to what classification needs."""

    is_open: bool  # the pixel, rather than a link or page
    method: str
    user_agent: str
    seconds_since_delivery: float | None  # None: the send is not recorded yet
    links_hit: int = 1  # distinct links of the message hit within burst_seconds (this one too)
    links_total: int = 0  # links the message carries (offers, contact page, unsubscribe)


@dataclass(frozen=True)
class Verdict:
    is_human: bool
    reason: str | None = None

    @classmethod
    def machine(cls, reason: str) -> Verdict:
        return cls(False, reason)


HUMAN = Verdict(True)


def classify(hit: Hit, rules: BotRules) -> Verdict:
    """Person or machine, and which rule said so.

    >>> classify(Hit(False, "HEAD", "Mozilla/5.0 (Windows NT 10.0)", 3600.0), BotRules())
    Verdict(is_human=False, reason='head_request')
    """
    if hit.method.upper() == "HEAD":
        return Verdict.machine("head_request")
    scanner = scanner_name(hit.user_agent)
    if scanner is not None:
        return Verdict.machine(f"scanner:{scanner}")
    agent = hit.user_agent.strip()
    if not agent:
        return Verdict.machine("no_user_agent")
    if agent == APPLE_PRIVACY_UA:
        return Verdict.machine("apple_privacy" if hit.is_open else "minimal_user_agent")
    if hit.seconds_since_delivery is None or hit.seconds_since_delivery < rules.delay_seconds:
        return Verdict.machine("too_soon")
    if hit.links_total >= 2 and hit.links_hit >= hit.links_total:
        return Verdict.machine("all_links")
    return HUMAN


@functools.lru_cache(maxsize=1024)  # a handful of agents make most hits
def scanner_name(user_agent: str) -> str | None:
    """The known scanner/gateway/preview a user agent belongs to, or None."""
    if _GMAIL_PROXY.search(user_agent):
        return None
    for name, pattern in _SCANNERS:
        if pattern.search(user_agent):
            return name
    return None


def proxy_note(user_agent: str) -> str | None:
    """A note for human hits that came through a known image proxy."""
    return "via gmail image proxy" if _GMAIL_PROXY.search(user_agent) else None
