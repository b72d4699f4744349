"""PURE pieces of recording a tracking hit: IP prefixes and the recent-links window per message."""

from __future__ import annotations

import functools
import ipaddress
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["RecentLinks", "Target", "clean_user_agent", "ip_prefix"]

MAX_USER_AGENT = 512  # characters kept of a User-Agent header

# A link target of a message: (event kind, link index). Offers are ("click", n); the contact
# page and the unsubscribe page are one target each.
Target = tuple[str, int | None]


@functools.lru_cache(maxsize=4096)
def ip_prefix(address: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network of an address: enough for geography, not a person.

    >>> ip_prefix("203.0.113.77"), ip_prefix("2001:db8:1234:5678::1")
    ('203.0.113.0/24', '2001:db8:1234::/48')
    """
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    bits = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def clean_user_agent(value: str | None) -> str:
    """One line, at most MAX_USER_AGENT characters."""
    return " ".join((value or "").split())[:MAX_USER_AGENT]


@dataclass
class _Seen:
    target: Target
    at: datetime


@dataclass
class _Message:
    hits: deque[_Seen]  # in arrival order
    latest: dict[Target, datetime]  # each target's latest hit among `hits`


class RecentLinks:
    """Which distinct links of each message were hit within the last `span` (pure, in memory).

    Fed in arrival order by the single event writer; old entries are pruned as time moves on.
    A target counts when any of its hits is within the span, i.e. when its latest one is, so
    counting looks at one time per target, however many hits a message gets.
    """

    def __init__(self, span: timedelta) -> None:
        self.span = span
        self._seen: dict[int, _Message] = {}
        self._pruned: datetime | None = None

    def add(self, message_id: int, target: Target, at: datetime) -> int:
        """Record a hit; returns how many distinct targets of the message fall in the window."""
        if self._pruned is None or at - self._pruned > self.span:
            self._pruned = at
            self._prune(at)
        seen = self._seen.get(message_id)
        if seen is None:
            seen = self._seen[message_id] = _Message(deque(), {})
        seen.hits.append(_Seen(target, at))
        latest = seen.latest.get(target)
        if latest is None or at > latest:
            seen.latest[target] = at
        return sum(1 for last in seen.latest.values() if at - last <= self.span)

    def has(self, message_id: int, target: Target, at: datetime) -> bool:
        """Whether the message's target was hit within the span before `at` (already added)."""
        seen = self._seen.get(message_id)
        last = seen.latest.get(target) if seen is not None else None
        return last is not None and at - last <= self.span

    def window_start(self, message_id: int, at: datetime) -> datetime:
        """The earliest hit of the message still inside the window ending at `at`."""
        seen = self._seen.get(message_id)
        hits = seen.hits if seen is not None else ()
        return min((s.at for s in hits if at - s.at <= self.span), default=at)

    def _prune(self, now: datetime) -> None:
        for message_id in list(self._seen):
            seen = self._seen[message_id]
            if not seen.hits or now - seen.hits[0].at <= self.span:
                continue
            while seen.hits and now - seen.hits[0].at > self.span:
                seen.hits.popleft()
            if not seen.hits:
                del self._seen[message_id]
                continue
            seen.latest = {}
            for hit in seen.hits:
                if hit.target not in seen.latest or hit.at > seen.latest[hit.target]:
                    seen.latest[hit.target] = hit.at
