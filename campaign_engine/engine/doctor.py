"""`campaign doctor`: check the configuration for deliverability and compliance; sends nothing."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import urlsplit

from campaign_engine.core.config import Settings
from campaign_engine.core.errors import ConfigError
from campaign_engine.core.secretcheck import DEMO_SECRET, is_loopback, weak_secret
from campaign_engine.sending.dkim import (
    DkimSigner,
    dns_record,
    public_key_of,
    valid_domain,
    valid_selector,
)

__all__ = ["DEMO_SECRET", "Check", "diagnose", "smtp_reachable"]

_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
_Add = Callable[[str, str, str], None]


@dataclass(frozen=True)
class Check:
    level: str  # "ok", "warning" (worth fixing) or "error" (must be fixed)
    what: str
    detail: str


def diagnose(settings: Settings, probe_smtp: bool = True) -> list[Check]:
    """Every check, in order; no message is sent (SMTP is only connected to, then closed)."""
    checks: list[Check] = []

    def add(level: str, what: str, detail: str) -> None:
        checks.append(Check(level, what, detail))

    sender = parseaddr(settings.from_address)[1]
    domain = sender.rsplit("@", 1)[-1].lower() if "@" in sender else ""
    if not domain or not valid_domain(domain):
        add(
            "error",
            "from",
            f"{settings.from_address!r} has no valid domain: set `from` to "
            "'Name <user@your-domain>'",
        )
    else:
        add("ok", "from", f"sending as {sender}")
    _check_dkim(settings, domain, add)
    url = urlsplit(settings.tracking_base_url)
    if url.scheme == "https" and url.hostname:
        add("ok", "tracking_base_url", settings.tracking_base_url)
    elif url.scheme == "http" and url.hostname in _LOCAL_HOSTS:
        add(
            "warning",
            "tracking_base_url",
            f"{settings.tracking_base_url} is local: fine for a "
            "demo, but recipients cannot reach it; use the public https URL of `campaign serve`",
        )
    elif url.scheme == "http" and url.hostname:
        add(
            "error",
            "tracking_base_url",
            f"{settings.tracking_base_url} is plain http: use https"
            " (unsubscribe links must be secure; Gmail and Yahoo expect an https one-click URL)",
        )
    else:
        add("error", "tracking_base_url", f"{settings.tracking_base_url!r} is not an http(s) URL")
    if settings.postal_address.strip():
        add("ok", "postal_address", " ".join(settings.postal_address.split()))
    else:
        add(
            "error",
            "postal_address",
            "is empty: CAN-SPAM requires a valid postal address in "
            "every marketing email; set `postal_address`",
        )
    weakness = weak_secret(settings.secret)
    if weakness is None:
        add("ok", "secret", "set")
    elif is_loopback(settings.tracking_base_url):
        add("warning", "secret", f"{weakness}; fine for a local demo only")
    else:
        add(
            "error",
            "secret",
            f"{weakness}: serve, run and tick refuse to start with it; set CAMPAIGN_SECRET to "
            "a long random string, e.g. $(openssl rand -hex 32)",
        )
    if settings.transport == "smtp" and probe_smtp:
        reachable, detail = smtp_reachable(settings.smtp.host, settings.smtp.port)
        add("ok" if reachable else "warning", "smtp", detail)
    elif settings.transport != "smtp":
        add(
            "warning",
            "transport",
            f"is {settings.transport!r}: mail is written to "
            f'{settings.outbox_dir}, not sent; set transport = "smtp" to send',
        )
    return checks


def _check_dkim(settings: Settings, from_domain: str, add: _Add) -> None:
    dkim = settings.dkim
    if not (dkim.selector or dkim.domain or dkim.private_key_path):
        add(
            "error",
            "dkim",
            "not configured: Gmail and Yahoo require DKIM from bulk senders; "
            "run `campaign dkim keygen --out var/dkim.pem` and fill in [dkim]",
        )
        return
    missing = [k for k in ("selector", "domain", "private_key_path") if not getattr(dkim, k)]
    if missing:
        add("error", "dkim", f"[dkim] {', '.join(missing)} not set")
        return
    if not valid_selector(dkim.selector):
        add("error", "dkim", f"selector {dkim.selector!r} is not a valid DNS label")
    if not valid_domain(dkim.domain):
        add("error", "dkim", f"domain {dkim.domain!r} is not a valid domain name")
    elif from_domain and not (
        from_domain == dkim.domain or from_domain.endswith("." + dkim.domain)
    ):
        add(
            "error",
            "dkim",
            f"domain {dkim.domain} does not match the From domain {from_domain}:"
            " DMARC needs them aligned; sign with d={from_domain} (or its parent domain)",
        )
    try:
        DkimSigner.from_settings(dkim)
        pem = dkim.private_key_path.read_bytes()  # type: ignore[union-attr]
    except ConfigError as exc:
        add("error", "dkim", str(exc))
        return
    record = dns_record(dkim.selector, dkim.domain, public_key_of(pem))
    add("ok", "dkim", f"key {dkim.private_key_path} signs; publish: {record}")


def smtp_reachable(host: str, port: int, timeout: float = 3.0) -> tuple[bool, str]:
    """Connect and close, nothing more (no EHLO, no mail)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, f"{host}:{port} accepts connections"
    except OSError as exc:
        return False, f"{host}:{port} not reachable ({exc}); check [smtp] host and port"
