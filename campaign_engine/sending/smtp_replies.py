"""What an SMTP reply means, by the stage it came at and its enhanced status code (RFC 3463).

Pure. The rule that matters most: a fault of the relay or of our own set-up (it cannot connect,
TLS fails, it refuses our EHLO, our login or our sender, or says 421) is never held against a
recipient: nobody is bounced or suppressed, no attempt is spent, and sending pauses instead.
Only replies about one recipient (at RCPT TO, or after the final dot of a one-recipient
transaction) decide that recipient's fate. A refusal at RCPT TO that names us rather than the
recipient (our client host, relaying, a login, our EHLO name or our sender: Postfix says those at
RCPT TO) is a relay fault too when it comes before the relay accepted anyone in the session.
A 421 with a 4.7.x code at RCPT TO or later is a receiving provider deferring one recipient's
mail (Gmail's 421 4.7.28), not the relay failing: that recipient is retried later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from campaign_engine.sending.retry import AttemptResult

__all__ = [
    "NO_AUTH",
    "NO_AUTH_BEFORE_TLS",
    "REFUSES_US",
    "RelayFault",
    "Stage",
    "Verdict",
    "classify_drop",
    "classify_reply",
    "enhanced_code",
    "how_to_fix",
]


class Stage(StrEnum):
    """Where in the SMTP session something happened."""

    CONNECT = "connect"
    TLS = "tls"
    EHLO = "ehlo"
    AUTH = "auth"
    MAIL = "mail"  # MAIL FROM
    RCPT = "rcpt"  # RCPT TO
    DATA = "data"  # the DATA command, and the content up to the final dot
    AFTER_DOT = "after the final dot"  # waiting for the relay's verdict on the whole message


_SESSION_STAGES = {Stage.CONNECT, Stage.TLS, Stage.EHLO, Stage.AUTH, Stage.MAIL}
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
# Servers without enhanced codes still say which kind of 550 it is.
_UNKNOWN_USER = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient|address)|mailbox not found"
    r"|(recipient|address|user|mailbox) does not exist|invalid (recipient|mailbox)",
    re.IGNORECASE,
)
_REASONS = {
    Stage.CONNECT: "relay unreachable",
    Stage.TLS: "TLS with the relay failed",
    Stage.EHLO: "relay refused our EHLO",
    Stage.AUTH: "relay rejected login",
    Stage.MAIL: "relay rejected our sender (MAIL FROM)",
}
REFUSES_US = "the relay refuses to relay for us"
NO_AUTH_BEFORE_TLS = "the relay offers AUTH only after STARTTLS"
NO_AUTH = "the relay offers no AUTH mechanism we know"
_EHLO_NAME = "relay refused our EHLO name"
# Refusals that name us, not the recipient, by what they say (first match wins).
_NAMES_US = (
    (
        re.compile(
            r"client host rejected|relay access denied|relaying denied|not permitted to relay"
            r"|relay(ing)? not (permitted|allowed)|unable to relay|authentication required"
            r"|must authenticate|not authenticated|not logged in",
            re.IGNORECASE,
        ),
        REFUSES_US,
    ),
    (re.compile(r"helo command rejected", re.IGNORECASE), _EHLO_NAME),
    (re.compile(r"sender address rejected", re.IGNORECASE), _REASONS[Stage.MAIL]),
)

# What the operator changes when a session step fails for a reason of our own set-up;
# `{table}` is the relay's own settings table ("[smtp]", or one [[smtp.relays]] entry).
_FIXES: dict[str, str] = {  # keyed by Stage (a str)
    Stage.CONNECT: "check {table} host and port",
    Stage.TLS: "for a private CA set {table} ca_file, or tls_verify = false on a trusted network",
    Stage.EHLO: "set {table} ehlo_name to this host's public name (a FQDN)",
    Stage.AUTH: "check {table} username and password ({password})",
}
_FIXES_BY_REASON = {  # where the reason says more than the stage
    REFUSES_US: "check {table} username and password ({password})",
    _EHLO_NAME: _FIXES[Stage.EHLO],
    NO_AUTH_BEFORE_TLS: "set {table} starttls = true",
    NO_AUTH: "leave {table} username empty if the relay needs no login, or check host and port"
    " (the submission port 587 usually offers AUTH)",
}


def how_to_fix(stage: str, reason: str = "", relay: str = "") -> str:
    """The setting to look at when the session failed at `stage` for `reason` ("" when none):
    in [smtp], or in the [[smtp.relays]] entry named `relay` when one is given."""
    fix = _FIXES_BY_REASON.get(reason) or _FIXES.get(stage, "")
    if not relay:
        return fix.format(table="[smtp]", password="CAMPAIGN_SMTP_PASSWORD")
    variable = f"CAMPAIGN_SMTP_RELAYS_{relay.upper().replace('-', '_')}_PASSWORD"
    return fix.format(table=f'the [[smtp.relays]] entry "{relay}":', password=variable)


@dataclass(frozen=True)
class RelayFault:
    """The relay (or our set-up) failed: sending pauses, no recipient is touched."""

    stage: str
    reason: str  # "relay rejected login"
    detail: str  # "535 5.7.8 authentication credentials invalid"
    lasting: bool = False  # will not heal by itself: paused until the config or operator says so
    relay: str = ""  # the relay's name ([[smtp.relays]]); "" where there is no SMTP relay

    def __str__(self) -> str:
        return f"{self.reason} ({self.detail})"


@dataclass(frozen=True)
class Verdict:
    """The meaning of one reply: for the recipient, and (`fault`) for the relay as a whole."""

    result: AttemptResult
    detail: str  # the reply as the relay gave it: "550 5.1.1 user unknown"
    fault: RelayFault | None = None


def enhanced_code(text: str) -> str | None:
    """'5.1.1' from '5.1.1 user unknown', or None when the reply has no enhanced code."""
    match = _ENHANCED.match(text)
    return ".".join(match.groups()) if match else None


def classify_reply(stage: Stage, code: int, text: str, first_in_session: bool = False) -> Verdict:
    """The verdict on an SMTP reply `code text` received at `stage`; `first_in_session`: the
    relay has accepted no recipient in this session yet."""
    detail = " ".join(f"{code} {text}".split())
    enhanced = enhanced_code(text) or ""
    names_us = next((reason for pattern, reason in _NAMES_US if pattern.search(text)), None)
    # Will not heal by itself: a login, our EHLO name, relaying for us, a policy on our sender.
    lasting = code >= 500 and (
        stage in (Stage.AUTH, Stage.EHLO)
        or names_us in (REFUSES_US, _EHLO_NAME)
        or (stage in (Stage.MAIL, Stage.RCPT) and enhanced[:4] == "5.7.")
    )
    if code == 421 and stage not in _SESSION_STAGES and enhanced[:4] == "4.7." and not names_us:
        # A receiving provider (through the relay) defers our mail to one recipient, as Gmail's
        # 421 4.7.28 does: that recipient waits, and its provider's pacing slows; the relay and
        # everyone else's mail go on.
        return Verdict(AttemptResult.TRANSIENT, detail)
    if stage in _SESSION_STAGES or code == 421:
        reason = names_us or _REASONS.get(stage, "relay is not accepting mail now")
        return _fault(stage, reason, detail, lasting)
    if stage == Stage.RCPT and first_in_session and names_us and code >= 400:
        return _fault(stage, names_us, detail, lasting)
    if code == 503 or (enhanced[:4] == "5.5." and enhanced != "5.5.0"):
        # "bad sequence of commands", "syntax error": our session, not this recipient
        return _fault(stage, "relay refused a command", detail, lasting=False)
    if 200 <= code < 300:
        return Verdict(AttemptResult.DELIVERED, detail)
    if 400 <= code < 500:
        return Verdict(AttemptResult.TRANSIENT, detail)
    if enhanced[:4] in ("5.1.", "5.2.") or (
        not enhanced and code in (550, 551, 553) and _UNKNOWN_USER.search(text)
    ):
        return Verdict(AttemptResult.ADDRESS_GONE, detail)
    return Verdict(AttemptResult.PERMANENT, detail)


def classify_drop(stage: Stage, error: str) -> Verdict:
    """The verdict when the connection broke (or timed out) at `stage`, with no reply."""
    detail = f"connection lost at {stage}: {error}" if error else f"connection lost at {stage}"
    if stage == Stage.AFTER_DOT:
        # The relay had the whole message: it may have taken it. Never resent on our own.
        return Verdict(AttemptResult.UNCERTAIN, detail)
    if stage in _SESSION_STAGES:
        lasting = stage == Stage.TLS and "CERTIFICATE_VERIFY_FAILED" in error
        return _fault(stage, _REASONS[stage], error or detail, lasting)
    return Verdict(AttemptResult.TRANSIENT, detail)  # before the dot: nothing was delivered


def _fault(stage: Stage, reason: str, detail: str, lasting: bool) -> Verdict:
    return Verdict(AttemptResult.NOT_ATTEMPTED, detail, RelayFault(stage, reason, detail, lasting))
