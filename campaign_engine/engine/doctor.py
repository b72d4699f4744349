"""`campaign doctor`: check the configuration for deliverability and compliance; sends nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import urlsplit

import aiosmtplib

from campaign_engine.core.config import Settings, SmtpSettings
from campaign_engine.core.errors import CampaignEngineError, ConfigError
from campaign_engine.core.secretcheck import DEMO_SECRET, is_loopback, weak_secret
from campaign_engine.core.tokens import TokenSigner
from campaign_engine.inbound.imap import check_login
from campaign_engine.sending.dkim import (
    DkimSigner,
    dns_record,
    public_key_of,
    valid_domain,
    valid_selector,
)
from campaign_engine.sending.relay_router import no_relay_for
from campaign_engine.sending.reply_addresses import envelope_sender
from campaign_engine.sending.retry import AttemptResult
from campaign_engine.sending.smtp_client import (
    SessionFault,
    default_ehlo_name,
    open_session,
    probe_envelope,
    relay_said,
)
from campaign_engine.sending.smtp_replies import Verdict, how_to_fix

__all__ = ["DEMO_SECRET", "Check", "diagnose", "smtp_reachable", "smtp_session"]

_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
_Add = Callable[[str, str, str], None]


@dataclass(frozen=True)
class Check:
    level: str  # "ok", "warning" (worth fixing) or "error" (must be fixed)
    what: str
    detail: str


def diagnose(settings: Settings, probe_smtp: bool = True) -> list[Check]:
    """Every check, in order; no message is sent (the SMTP session stops after RCPT TO)."""
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
    _check_replies(settings, probe_smtp, add)
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
        add("warning", "secret", f"{weakness}; fine for a local demo on 127.0.0.1 only")
    else:
        add(
            "error",
            "secret",
            f"{weakness}: serve, run and tick refuse to start with it; set CAMPAIGN_SECRET to "
            "a long random string, e.g. $(openssl rand -hex 32)",
        )
    if settings.transport == "smtp" and not any(r.carries(domain) for r in settings.relays):
        add("error", "smtp", no_relay_for(domain))
    if settings.transport == "smtp" and probe_smtp:
        for relay in settings.relays:  # each relay walks its own envelope
            checks.extend(asyncio.run(smtp_session(settings, domain, relay)))
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


def _check_replies(settings: Settings, probe: bool, add: _Add) -> None:
    """Reply-To and Return-Path set, and the mailbox behind them readable."""
    if settings.reply_to:
        how = " with a signed +TAG per message" if settings.reply_subaddress else ""
        add("ok", "reply_to", f"marketing mail replies to {settings.reply_to}{how}")
    else:
        add(
            "warning",
            "reply_to",
            "not set: replies go to the owning rep's own mailbox and never become contact"
            " requests (the contact keeps getting emails 2 and 3); set reply_to and [inbox]",
        )
    if settings.bounce_address:
        add("ok", "bounce_address", f"Return-Path {settings.bounce_address} with a VERP +TAG")
    else:
        add(
            "warning",
            "bounce_address",
            "not set: the Return-Path is the From address, so later bounces are not matched"
            " to what we sent; set bounce_address (delivered to the [inbox] mailbox)",
        )
    if not settings.inbox.enabled:
        if settings.reply_to or settings.bounce_address:
            add(
                "warning",
                "inbox",
                "[inbox] host is not set: nobody reads the reply and bounce mailbox;"
                " configure [inbox] so `campaign run` polls it",
            )
        return
    if not probe:
        add("ok", "inbox", f"{settings.inbox.host} (login not checked)")
        return
    try:
        add("ok", "inbox", check_login(settings.inbox))
    except CampaignEngineError as exc:
        add("error", "inbox", str(exc))


async def smtp_session(
    settings: Settings, from_domain: str, relay: SmtpSettings | None = None
) -> list[Check]:
    """A real session with `relay` (default the first), as a send opens it: connect, EHLO,
    STARTTLS, AUTH, then MAIL FROM the real envelope sender and RCPT TO `[smtp] probe_rcpt`
    (default the From address), RSET and QUIT: no message is sent. One check per step with the
    relay's reply as it gave it; the failing step says why and what to change. With several
    relays each check is named `smtp NAME`."""
    smtp = relay or settings.relays[0]
    what = f"smtp {smtp.name}" if len(settings.relays) > 1 else "smtp"
    return [dataclasses.replace(c, what=what) for c in await _session(settings, from_domain, smtp)]


async def _session(settings: Settings, from_domain: str, smtp: SmtpSettings) -> list[Check]:
    steps: list[str] = []
    entry = smtp.name if settings.smtp_relays else ""  # the fix names this relay's own table
    try:
        client = await open_session(smtp, smtp.ehlo_name or default_ehlo_name(from_domain), steps)
    except SessionFault as exc:
        return [*_passed(steps), _failed(exc.verdict, entry)]
    probe = smtp.probe_rcpt or parseaddr(settings.from_address)[1]
    sender = envelope_sender(settings, TokenSigner(settings.secret), 0)
    verdict = await probe_envelope(client, sender, probe, steps)
    checks = _passed(steps)
    if verdict.fault is not None:
        checks.append(_failed(verdict, entry))
    elif verdict.result != AttemptResult.DELIVERED:  # about that address, not about us
        checks.append(
            Check(
                "warning",
                "smtp",
                f"RCPT TO:<{probe}>: {verdict.detail}: the relay refused this address, not our"
                " session; set [smtp] probe_rcpt to an address it delivers to",
            )
        )
    if client.is_connected:
        try:
            checks.append(Check("ok", "smtp", f"QUIT: {relay_said(await client.quit())}"))
        except aiosmtplib.SMTPException:
            client.close()
    if not smtp.starttls and not smtp.use_tls and smtp.host not in _LOCAL_HOSTS:
        checks.append(Check("warning", "smtp", "no TLS to a remote relay: set starttls = true"))
    return checks


def _passed(steps: list[str]) -> list[Check]:
    return [Check("ok", "smtp", step) for step in steps]


def _failed(verdict: Verdict, relay_entry: str) -> Check:
    """The step that failed: where, the relay's reply, and the setting to change (in the
    [[smtp.relays]] entry named `relay_entry`, or in [smtp] when that is "")."""
    fault = verdict.fault
    if fault is None:
        return Check("error", "smtp", verdict.detail)
    fix = how_to_fix(fault.stage, fault.reason, relay_entry)
    return Check("error", "smtp", f"{fault.stage}: {fault}" + (f"; {fix}" if fix else ""))


def smtp_reachable(host: str, port: int, timeout: float = 3.0) -> tuple[bool, str]:
    """Connect and close, nothing more (no EHLO, no mail)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, f"{host}:{port} accepts connections"
    except OSError as exc:
        return False, f"{host}:{port} not reachable ({exc}); check [smtp] host and port"
