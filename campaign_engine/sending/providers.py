"""Which mailbox provider takes a domain's mail: google, microsoft, yahoo, apple or other.

A company on Google Workspace or Microsoft 365 keeps its own domain, so the provider is read from
the domain's MX host names (the suffixes KumoMTA's shaping rules group providers by); the
consumer domains of the four are known without asking. Names reserved for documentation and
tests (RFC 2606, RFC 6761) are never looked up.

Lookups never hold up a batch for long: they run in threads, all of a batch at once, and a batch
waits `lookup_timeout` seconds at most; a domain with no answer by then, or none at all, is
"other" (remembered for a minute, then asked again). Answers are remembered `cache_minutes`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import dns.exception
import dns.resolver

from campaign_engine.core.pacing_config import PacingSettings

__all__ = ["OTHER", "MxLookup", "ProviderDirectory", "dns_mx_lookup", "provider_of_mx"]

log = logging.getLogger(__name__)

OTHER = "other"
MxLookup = Callable[[str], list[str]]  # domain -> its MX host names, best first

_MX_SUFFIXES = (
    (".google.com", "google"),  # aspmx.l.google.com, alt1.aspmx.l.google.com
    (".googlemail.com", "google"),
    (".protection.outlook.com", "microsoft"),  # *.mail. (Microsoft 365), *.olc. (outlook.com)
    (".mx.microsoft", "microsoft"),  # Microsoft 365 with DANE
    (".yahoodns.net", "yahoo"),  # Yahoo and AOL
    (".icloud.com", "apple"),  # mx01.mail.icloud.com
)
_CONSUMER = {
    **dict.fromkeys(("gmail.com", "googlemail.com"), "google"),
    **dict.fromkeys(("outlook.com", "hotmail.com", "live.com", "msn.com"), "microsoft"),
    **dict.fromkeys(("yahoo.com", "ymail.com", "aol.com"), "yahoo"),
    **dict.fromkeys(("icloud.com", "me.com", "mac.com"), "apple"),
}
_RESERVED = ("example", "test", "invalid", "localhost", "local", "onion", "arpa")
_RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
_RETRY_FAILED = timedelta(minutes=1)  # a failed lookup is asked again after this


def provider_of_mx(hosts: Iterable[str]) -> str:
    """The provider behind the first MX host the table knows; else other.

    >>> provider_of_mx(["alt1.aspmx.l.google.com."])
    'google'
    """
    for host in hosts:
        name = "." + host.lower().rstrip(".")
        for suffix, provider in _MX_SUFFIXES:
            if name.endswith(suffix):
                return provider
    return OTHER


def _known(domain: str) -> str | None:
    """The provider when no lookup is needed: a consumer domain, or a reserved name."""
    if domain in _CONSUMER:
        return _CONSUMER[domain]
    reserved = domain.rsplit(".", 1)[-1] in _RESERVED or any(
        domain == d or domain.endswith("." + d) for d in _RESERVED_DOMAINS
    )
    return OTHER if reserved or "." not in domain else None


def dns_mx_lookup(timeout: float) -> MxLookup:
    """MX host names from the system's resolver (dnspython), best preference first; none when
    this host has no resolver configured (every domain outside the tables is then "other")."""
    try:
        resolver = dns.resolver.Resolver()
    except (dns.exception.DNSException, OSError) as exc:
        log.warning("no DNS resolver for MX lookups (%s): unknown domains are 'other'", exc)
        return lambda domain: []
    resolver.lifetime = timeout

    def lookup(domain: str) -> list[str]:
        try:
            answer = resolver.resolve(domain, "MX", search=False)
        except (dns.exception.DNSException, OSError):
            return []
        records = sorted(answer, key=lambda r: r.preference)
        return [str(r.exchange).rstrip(".").lower() for r in records]

    return lookup


class ProviderDirectory:
    """Domain -> provider: the `[pacing] mx` table, the built-in names, then `lookup` (None: no
    lookups), each answer remembered for `cache_minutes`."""

    def __init__(self, settings: PacingSettings, lookup: MxLookup | None) -> None:
        self.settings = settings
        self.lookup = lookup
        self.ttl = timedelta(minutes=settings.cache_minutes)
        self._cache: dict[str, tuple[str, datetime]] = {}  # domain -> (provider, until)

    @classmethod
    def from_settings(cls, settings: PacingSettings) -> ProviderDirectory:
        lookup = dns_mx_lookup(settings.lookup_timeout) if settings.lookup_mx else None
        return cls(settings, lookup)

    async def providers(self, domains: Iterable[str], now: datetime) -> dict[str, str]:
        """The provider of each domain; unknown ones looked up together, `lookup_timeout` at
        most."""
        found: dict[str, str] = {}
        ask: set[str] = set()
        for domain in {d.lower() for d in domains}:
            known = self._settled(domain, now)
            if known is None:
                ask.add(domain)
            else:
                found[domain] = known
        if ask:
            found.update(await self._look_up(sorted(ask), now))
        return found

    def _settled(self, domain: str, now: datetime) -> str | None:
        if domain in self.settings.mx:
            return provider_of_mx([self.settings.mx[domain]])
        known = _known(domain)
        if known is not None or self.lookup is None:
            return known or OTHER
        cached = self._cache.get(domain)
        return cached[0] if cached is not None and cached[1] > now else None

    async def _look_up(self, domains: list[str], now: datetime) -> dict[str, str]:
        assert self.lookup is not None
        tasks = {d: asyncio.ensure_future(asyncio.to_thread(self.lookup, d)) for d in domains}
        await asyncio.wait(tasks.values(), timeout=self.settings.lookup_timeout)
        found = {}
        for domain, task in tasks.items():
            hosts = task.result() if task.done() and not task.exception() else []
            found[domain] = provider_of_mx(hosts)
            self._cache[domain] = (found[domain], now + (self.ttl if hosts else _RETRY_FAILED))
        return found
