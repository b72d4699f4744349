"""Is the HMAC secret good enough to run in production?

The secret signs session cookies and tracking/unsubscribe tokens: the demo value shipped in
config.toml, a short one or a low-entropy one lets anyone forge them. `serve`, `run` and `tick`
refuse to start with such a secret unless it is a local demo: `tracking_base_url` is loopback and,
for the commands that listen, so is the address they bind to.
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from urllib.parse import urlsplit

from campaign_engine.core.config import Settings
from campaign_engine.core.errors import ConfigError

__all__ = [
    "DEMO_SECRET",
    "MIN_SECRET_BYTES",
    "is_loopback",
    "is_loopback_host",
    "require_strong_secret",
    "weak_secret",
]

DEMO_SECRET = "demo-secret-change-me-0f6c2b1e9a4d"  # the value shipped in config.toml
MIN_SECRET_BYTES = 32
_MIN_BITS = 128  # estimated from character frequencies (Shannon), not a proof of randomness
_MIN_DISTINCT = 10
_FIX = "set CAMPAIGN_SECRET to a long random string, e.g. $(openssl rand -hex 32)"


def weak_secret(secret: str) -> str | None:
    """Why this secret must not sign anything public, or None when it is strong enough."""
    if secret == DEMO_SECRET or "change-me" in secret.lower():
        return "is the demo value shipped in config.toml: anyone could forge tracking links"
    size = len(secret.encode("utf-8"))
    if size < MIN_SECRET_BYTES:
        return f"is {size} bytes long; it needs at least {MIN_SECRET_BYTES}"
    counts = Counter(secret)
    bits = -sum(n * math.log2(n / len(secret)) for n in counts.values())
    if len(counts) < _MIN_DISTINCT or bits < _MIN_BITS:
        return f"is low-entropy (about {bits:.0f} bits): it repeats a few characters"
    return None


def is_loopback(url: str) -> bool:
    """http://127.0.0.1:8080, http://localhost, http://[::1]: only this machine reaches it."""
    return is_loopback_host(urlsplit(url).hostname or "")


def is_loopback_host(host: str) -> bool:
    """127.0.0.1, ::1, localhost; not 0.0.0.0, :: or any other name (it may resolve anywhere)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_strong_secret(settings: Settings, bind_host: str | None = None) -> None:
    """ConfigError (one line: what and how to fix) for a weak secret where others can reach us:
    a public `tracking_base_url`, or a `bind_host` (the listening address, if any) that is not
    loopback, since then anyone on the network can reach the console."""
    reason = weak_secret(settings.secret)
    if reason is None:
        return
    if not is_loopback(settings.tracking_base_url):
        raise ConfigError(
            f"refusing to start: secret {reason}, and tracking_base_url "
            f"{settings.tracking_base_url} is public; {_FIX}"
        )
    if bind_host is not None and not is_loopback_host(bind_host):
        raise ConfigError(
            f"refusing to start: secret {reason}, and --host {bind_host} is not a loopback "
            f"address (other machines would reach the console); {_FIX}, or listen on 127.0.0.1"
        )
