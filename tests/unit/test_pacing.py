"""Per-provider pacing: slots per provider, halving on a burst of deferrals, slow recovery; and
which provider a domain's mail goes to."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dns.resolver
import pytest

from campaign_engine.core.errors import ConfigError
from campaign_engine.core.pacing_config import PacingSettings, ProviderLimit, pacing_settings
from campaign_engine.sending.pacing import Pace, admit, observe
from campaign_engine.sending.providers import ProviderDirectory, dns_mx_lookup, provider_of_mx

T0 = datetime(2021, 4, 27, 9, tzinfo=UTC)
GOOGLE = ProviderLimit(max_per_hour=600, max_connections=5)  # 10 a minute


def sent_per_minute(pace: Pace, limit: ProviderLimit, minutes: int) -> list[int]:
    """Messages admitted at each minute when there is always more to send."""
    counts = []
    for minute in range(1, minutes + 1):
        admission = admit(pace, limit, 1000, T0 + timedelta(minutes=minute))
        counts.append(admission.allowed)
        pace = admission.pace
    return counts


def test_a_provider_gets_its_rate_and_no_more_however_much_waits() -> None:
    first = admit(Pace.fresh("google", GOOGLE), GOOGLE, 1000, T0)
    assert first.allowed == 11  # a minute banked, and the slot at T0
    assert first.later == T0 + timedelta(seconds=6)
    assert sent_per_minute(first.pace, GOOGLE, 5) == [10] * 5


def test_no_limit_lets_everything_go() -> None:
    unlimited = ProviderLimit(0, 10)
    assert admit(Pace.fresh("other", unlimited), unlimited, 5000, T0).allowed == 5000


def test_five_deferrals_within_a_minute_halve_the_rate_and_deliveries_bring_it_back() -> None:
    pace = Pace.fresh("google", GOOGLE)
    four = observe(pace, GOOGLE, 0, [T0 + timedelta(seconds=s) for s in range(4)], T0)
    assert four.rate == 600  # four are not a burst

    slowed = observe(four, GOOGLE, 3, [T0 + timedelta(seconds=30)], T0 + timedelta(seconds=30))
    assert slowed.rate == 300 and slowed.slowdowns == 1
    assert sent_per_minute(slowed, GOOGLE, 3)[1:] == [5, 5]

    back = observe(slowed, GOOGLE, 100, [], T0 + timedelta(minutes=5))
    assert back.rate == 300 + 100 * 600 / 500  # additive: 1.2 an hour per accepted message
    assert observe(back, GOOGLE, 10_000, [], T0).rate == 600  # never above max_per_hour


def test_deferrals_spread_over_more_than_a_minute_do_not_halve() -> None:
    pace = Pace.fresh("google", GOOGLE)
    for minute in range(10):
        moment = T0 + timedelta(minutes=minute)
        pace = observe(pace, GOOGLE, 0, [moment, moment + timedelta(seconds=1)], moment)
    assert pace.rate == 600


def test_the_rate_never_falls_below_a_sixty_fourth() -> None:
    pace = Pace.fresh("google", GOOGLE)
    for _ in range(10):
        pace = observe(pace, GOOGLE, 0, [T0] * 5, T0)
    assert pace.rate == 600 / 64


def test_providers_are_known_by_their_mx_hosts() -> None:
    assert provider_of_mx(["aspmx.l.google.com."]) == "google"
    assert provider_of_mx(["acme-com.mail.protection.outlook.com"]) == "microsoft"
    assert provider_of_mx(["hotmail-com.olc.protection.outlook.com"]) == "microsoft"
    assert provider_of_mx(["mta7.am0.yahoodns.net"]) == "yahoo"
    assert provider_of_mx(["mx01.mail.icloud.com"]) == "apple"
    assert provider_of_mx(["mx.acme.example", "aspmx.l.google.com"]) == "google"
    assert provider_of_mx(["mail.acme.example"]) == provider_of_mx([]) == "other"


def test_the_directory_asks_only_for_what_it_does_not_know_and_never_waits_long() -> None:
    asked: list[str] = []

    def lookup(domain: str) -> list[str]:
        asked.append(domain)
        if domain == "slow.io":
            time.sleep(1.0)
            return ["aspmx.l.google.com"]
        return {"acme.io": ["acme-io.mail.protection.outlook.com"]}.get(domain, [])

    settings = PacingSettings(lookup_timeout=0.2, mx={"corp.example": "aspmx.l.google.com"})
    directory = ProviderDirectory(settings, lookup)
    domains = ["gmail.com", "ACME.io", "slow.io", "smb.example", "corp.example", "nomx.io"]

    async def timed() -> tuple[dict[str, str], float]:
        started = time.monotonic()
        return await directory.providers(domains, T0), time.monotonic() - started

    found, took = asyncio.run(timed())
    assert took < 0.9
    assert found == {
        "gmail.com": "google",
        "acme.io": "microsoft",
        "slow.io": "other",  # no answer in time
        "smb.example": "other",  # reserved: never looked up
        "corp.example": "google",  # the configured table
        "nomx.io": "other",
    }
    assert sorted(asked) == ["acme.io", "nomx.io", "slow.io"]
    asyncio.run(directory.providers(["acme.io"], T0 + timedelta(hours=1)))
    assert sorted(asked) == ["acme.io", "nomx.io", "slow.io"]  # remembered


def test_pacing_settings_are_read_and_checked(tmp_path: Path) -> None:
    source = tmp_path / "config.toml"
    settings = pacing_settings(
        {"lookup_mx": False, "google": {"max_per_hour": 1200}, "mx": {"A.example": "MX.X."}},
        source,
    )
    assert settings.limit("google") == ProviderLimit(1200, 5)
    assert settings.limit("yahoo") == ProviderLimit(3600, 10)
    assert settings.mx == {"a.example": "mx.x"}
    with pytest.raises(ConfigError, match=r"unknown \[pacing\] setting\(s\) gmail"):
        pacing_settings({"gmail": {}}, source)
    with pytest.raises(ConfigError, match=r"\[pacing.apple\] max_per_hour must be 0"):
        pacing_settings({"apple": {"max_per_hour": -1}}, source)


def test_ticks_further_apart_than_a_minute_each_send_a_ticks_worth() -> None:
    five = timedelta(minutes=5)
    pace = admit(Pace.fresh("google", GOOGLE), GOOGLE, 1000, T0, five).pace
    assert admit(pace, GOOGLE, 1000, T0 + five, five).allowed == 50


def test_a_host_without_a_resolver_sends_unknown_domains_as_other(tmp_path: Path) -> None:
    empty = tmp_path / "resolv.conf"
    empty.write_text("")
    real = dns.resolver.Resolver
    with pytest.MonkeyPatch.context() as patch:  # as if /etc/resolv.conf named no server
        patch.setattr(dns.resolver, "Resolver", lambda: real(str(empty)))
        lookup = dns_mx_lookup(0.5)
    assert lookup("acme.io") == []
