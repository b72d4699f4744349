"""The [pacing] settings: how fast each mailbox provider (Google, Microsoft, Yahoo, Apple, other)
may be sent to, and how a recipient's provider is found.

    [pacing]
    lookup_mx = true          # ask DNS for a domain's MX hosts; false: built-in table and `mx` only
    lookup_timeout = 2.0      # seconds a batch waits for MX answers at most; then "other"
    cache_minutes = 360       # how long a domain's provider is remembered
    mx = { "corp.example" = "aspmx.l.google.com" }   # domain -> MX host, never looked up

    [pacing.google]
    max_per_hour = 3600       # 0: no per-provider limit (and no back-off)
    max_connections = 5       # its messages in flight at once

The defaults and where they come from are in docs/guide.md (Delivery: per-provider pacing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from campaign_engine.core.errors import ConfigError

__all__ = ["PROVIDERS", "PacingSettings", "ProviderLimit", "pacing_settings"]

PROVIDERS = ("google", "microsoft", "yahoo", "apple", "other")


@dataclass(frozen=True)
class ProviderLimit:
    """One provider's ceiling: messages an hour (0 = none) and messages in flight at once."""

    max_per_hour: float
    max_connections: int


# One a second for the big four: a careful start for one sending domain (none of them publishes
# an hourly number; they answer a sender that is too fast with 4xx, which halves the rate).
# Connections: KumoMTA's shaping defaults (Google and Microsoft 5, otherwise 10). "other" is
# every other domain together, most of them small company servers: no hourly limit.
_DEFAULTS = {
    "google": ProviderLimit(3600, 5),
    "microsoft": ProviderLimit(3600, 5),
    "yahoo": ProviderLimit(3600, 10),
    "apple": ProviderLimit(3600, 10),
    "other": ProviderLimit(0, 10),
}


@dataclass(frozen=True)
class PacingSettings:
    """Per-provider limits and how providers are found (see the module docstring)."""

    lookup_mx: bool = True
    lookup_timeout: float = 2.0
    cache_minutes: float = 360.0
    mx: Mapping[str, str] = field(default_factory=dict, hash=False)
    limits: Mapping[str, ProviderLimit] = field(default_factory=lambda: dict(_DEFAULTS), hash=False)

    def limit(self, provider: str) -> ProviderLimit:
        return self.limits.get(provider, self.limits["other"])


def pacing_settings(raw: Mapping[str, Any], source: Path) -> PacingSettings:
    """The [pacing] table as read from `source`; unknown keys and bad values are refused."""
    known = {"lookup_mx", "lookup_timeout", "cache_minutes", "mx", *PROVIDERS}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(
            f"{source}: unknown [pacing] setting(s) {', '.join(sorted(unknown))};"
            f" providers are {', '.join(PROVIDERS)}"
        )
    limits = {name: _limit(name, raw.get(name, {}), source) for name in PROVIDERS}
    mx = raw.get("mx", {})
    if not isinstance(mx, dict) or not all(isinstance(v, str) for v in mx.values()):
        raise ConfigError(
            f'{source}: [pacing] mx maps domains to MX hosts: {{ "a.com" = "mx.a.com" }}'
        )
    try:
        settings = PacingSettings(
            lookup_mx=bool(raw.get("lookup_mx", True)),
            lookup_timeout=float(raw.get("lookup_timeout", 2.0)),
            cache_minutes=float(raw.get("cache_minutes", 360.0)),
            mx={domain.lower(): host.lower().rstrip(".") for domain, host in mx.items()},
            limits=limits,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: [pacing] {exc}") from exc
    if settings.lookup_timeout <= 0 or settings.cache_minutes < 0:
        raise ConfigError(
            f"{source}: [pacing] lookup_timeout must be positive and cache_minutes 0 or more"
        )
    return settings


def _limit(name: str, raw: Any, source: Path) -> ProviderLimit:
    default = _DEFAULTS[name]
    if not isinstance(raw, dict) or set(raw) - {"max_per_hour", "max_connections"}:
        raise ConfigError(f"{source}: [pacing.{name}] takes max_per_hour and max_connections")
    try:
        limit = ProviderLimit(
            float(raw.get("max_per_hour", default.max_per_hour)),
            int(raw.get("max_connections", default.max_connections)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: [pacing.{name}] {exc}") from exc
    if limit.max_per_hour < 0 or limit.max_connections < 1:
        raise ConfigError(
            f"{source}: [pacing.{name}] max_per_hour must be 0 (no limit) or more and"
            f" max_connections 1 or more"
        )
    return limit
