"""Which relay each message goes to: by weight, evenly interleaved, within each relay's domains."""

from __future__ import annotations

from campaign_engine.core.config import SmtpSettings
from campaign_engine.sending.relay_router import RelayRouter, from_domain
from campaign_engine.sending.smtp_client import RateLimiter, SmtpTransport


def router(*relays: SmtpSettings) -> RelayRouter:
    return RelayRouter([SmtpTransport(relay, RateLimiter(0)) for relay in relays])


def picks(routing: RelayRouter, domain: str, count: int) -> str:
    live = routing.transports
    chosen = (routing.pick(domain, live) for _ in range(count))
    return "".join(c.settings.name if c is not None else "-" for c in chosen)


def test_weights_three_to_one_interleave_and_domains_narrow_the_choice() -> None:
    a, b = SmtpSettings(name="a", weight=3), SmtpSettings(name="b", domains=("x.example",))
    assert picks(router(a, b), "x.example", 8) == "aabaaaba"
    assert picks(router(a, b), "y.example", 4) == "aaaa"
    assert picks(router(SmtpSettings(name="c", domains=("x.example",))), "y.example", 2) == "--"


def test_the_sending_domain_is_the_from_headers() -> None:
    raw = b"Return-Path: <b@bounce.example>\r\nFrom: Ops <Ops@Mail.Example.COM>\r\n\r\nhi\r\n"
    assert from_domain(raw) == "mail.example.com"
    assert from_domain(b"Subject: none\r\n\r\n") == ""
