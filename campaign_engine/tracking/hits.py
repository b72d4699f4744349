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


class RecentLinks:
    """Which distinct links of each message were hit within the last `span` (pure, in memory).

    Fed in arrival order by the single event writer; old entries are pruned as time moves on.
    """

    def __init__(self, span: timedelta) -> None:
        self.span = span
        self._seen: dict[int, deque[_Seen]] = {}
        self._pruned: datetime | None = None

    def add(self, message_id: int, target: Target, at: datetime) -> int:
        """Record a hit; returns how many distinct targets of the message fall in the window."""
        if self._pruned is None or at - self._pruned > self.span:
            self._pruned = at
            self._prune(at)
        seen = self._seen.setdefault(message_id, deque())
        seen.append(_Seen(target, at))
        return len({s.target for s in seen if at - s.at <= self.span})

    def window_start(self, message_id: int, at: datetime) -> datetime:
        """The earliest hit of the message still inside the window ending at `at`."""
        return min(
            (s.at for s in self._seen.get(message_id, ()) if at - s.at <= self.span), default=at
        )

    def _prune(self, now: datetime) -> None:
        for message_id in list(self._seen):
            seen = self._seen[message_id]
            while seen and now - seen[0].at > self.span:
                seen.popleft()
            if not seen:
                del self._seen[message_id]
