"""What an incoming message is: complaint, bounce, unsubscribe, auto-reply or a person (PURE).

Order matters: reports first (a DSN or an ARF report is machine mail whatever it quotes),
then a mail to the unsubscribe address, then the proof of an automatic answer (inbound.autoreply:
headers, never subject words alone). Whatever is left was written by a person; when a weak sign
says it may be automatic, the verdict says so and a person still reads it.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass
from email import message_from_bytes

from campaign_engine.core.kinds import InboundKind
from campaign_engine.inbound.autoreply import evidence
from campaign_engine.inbound.parse import Inbound
from campaign_engine.inbound.return_dates import return_date

__all__ = ["Verdict", "classify"]

_DAEMONS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status notification|failure|has failed)|returned mail|"
    r"mail delivery (failed|system)|failure notice|non remis|unzustellbar|nicht zustellbar",
    re.IGNORECASE,
)
_UNSUBSCRIBE = re.compile(r"^\s*unsubscribe\b\s*(\S*)", re.IGNORECASE)
# flufl.bounce logs a traceback for each detector that fails on malformed mail; we handle it.
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Verdict:
    kind: InboundKind
    failed: tuple[str, ...] = ()  # addresses a DSN says failed (permanent or transient)
    status: str = ""  # enhanced status code, or the reason in words
    token: str = ""  # the unsubscribe token of a mailto unsubscribe
    returns_on: str = ""  # an auto-reply's return date (YYYY-MM-DD) when it states one
    may_be_automatic: str = ""  # a reply with a weak sign of a machine: why a person should look


def classify(mail: Inbound, unsubscribe_mailto: str = "") -> Verdict:
    if mail.report_type == "feedback-report" or mail.feedback:
        kind = mail.feedback.get("feedback-type", "abuse")
        return Verdict(InboundKind.COMPLAINT, mail.original_recipients[:1], status=kind)
    if mail.report_type == "delivery-status" or mail.dsn:
        return _dsn(mail)
    if _from_daemon(mail):
        verdict = _non_standard_bounce(mail)
        if verdict is not None:
            return verdict
    if unsubscribe_mailto and unsubscribe_mailto.lower() in mail.recipients:
        found = _UNSUBSCRIBE.match(mail.subject)
        if found:
            return Verdict(InboundKind.UNSUBSCRIBE, token=found.group(1))
    signs = evidence(mail.headers, mail.subject, mail.return_path)
    if signs.automatic:
        return Verdict(
            InboundKind.AUTO_REPLY,
            status=signs.automatic,
            returns_on=return_date(f"{mail.subject}\n{mail.text}"),
        )
    return Verdict(InboundKind.REPLY, may_be_automatic=signs.doubt)


def _dsn(mail: Inbound) -> Verdict:
    hard = [
        r
        for r in mail.dsn
        if r.status.startswith("5") or (r.action == "failed" and not r.status.startswith("4"))
    ]
    soft = [
        r
        for r in mail.dsn
        if r not in hard and (r.action in ("failed", "delayed") or r.status.startswith("4"))
    ]
    for kind, found in ((InboundKind.BOUNCE, hard), (InboundKind.SOFT_BOUNCE, soft)):
        if found:
            status = _status(found[0].status, found[0].diagnostic)
            return Verdict(kind, tuple(r.address for r in found), status=status)
    return Verdict(InboundKind.NOTICE, status="delivery report without a failure")


def _status(status: str, diagnostic: str) -> str:
    return f"{status} {diagnostic}".strip()[:500]


def _from_daemon(mail: Inbound) -> bool:
    return (
        bool(_DAEMONS.match(mail.from_address))
        or (mail.return_path == "" and bool(_BOUNCE_SUBJECT.search(mail.subject)))
        or "x-failed-recipients" in mail.headers
    )


def _non_standard_bounce(mail: Inbound) -> Verdict | None:
    """A bounce that is not RFC 3464 (Exim, qmail, old Exchange...): X-Failed-Recipients or
    flufl.bounce's detectors."""
    from flufl.bounce import all_failures

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            temporary, permanent = all_failures(message_from_bytes(mail.raw))
        except Exception:  # its detectors fail on malformed mail: then they found nothing
            temporary = permanent = frozenset()
    listed = tuple(
        a.strip().lower() for a in mail.headers.get("x-failed-recipients", "").split(",") if a
    )
    hard = tuple(dict.fromkeys([*listed, *(_address(a) for a in permanent)]))
    if hard:
        code = re.search(r"\b5\.\d{1,3}\.\d{1,3}\b", mail.text)
        return Verdict(InboundKind.BOUNCE, hard, status=code.group(0) if code else "permanent")
    if temporary:
        code = re.search(r"\b4\.\d{1,3}\.\d{1,3}\b", mail.text)
        soft = tuple(_address(a) for a in temporary)
        return Verdict(InboundKind.SOFT_BOUNCE, soft, status=code.group(0) if code else "delayed")
    if _BOUNCE_SUBJECT.search(mail.subject):
        return Verdict(InboundKind.BOUNCE, (), status="bounce without a recipient")
    return None


def _address(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return text.strip().strip("<>").lower()
