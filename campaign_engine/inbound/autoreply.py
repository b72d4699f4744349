"""Is an answer automatic? Decided on the evidence mail systems write, never on subject words (PURE).

Proof (the answer is an auto-reply; nobody is alerted):
- RFC 3834 `Auto-Submitted` with any value but `no` (Gmail, Sieve vacation in Dovecot and
  Cyrus, Zimbra, Exchange 2010 and later all write it);
- `X-Autoreply` or `X-Autorespond` (qmail, cPanel and other vacation programs);
- `Precedence: bulk`, `junk`, `list` or `auto_reply`;
- `X-Auto-Response-Suppress` together with a subject that *starts* with an automatic-reply
  prefix in one of the languages Outlook and Exchange localise it to (Exchange 2007 writes
  nothing else);
- Exchange's mailbox-rules signature (`X-MS-Exchange-Generated-Message-Source: Mailbox Rules
  Agent`), which only its out-of-office and rule replies carry.

A weak sign (the prefix alone, `X-Auto-Response-Suppress` alone, the null sender, a new subject
naming an absence) makes the answer a person's reply all the same, marked "may be automatic":
a person reads it rather than the engine dropping it. A subject such as "Re: absence management
in Ultimate?" is no sign at all.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Evidence", "automatic_reply_prefix", "evidence"]

# Subject prefixes of automatic replies, as the clients write them in each language.
_PREFIXES: dict[str, tuple[str, ...]] = {
    "en": (
        "automatic reply",
        "auto reply",
        "auto-reply",
        "autoreply",
        "out of office autoreply",
        "out of office",
        "auto",  # Dovecot Pigeonhole's vacation default: "Auto: <subject>"
    ),
    "de": ("automatische antwort", "abwesenheitsnotiz", "abwesend"),
    "fr": ("reponse automatique", "absent du bureau"),
    "es": ("respuesta automatica", "fuera de la oficina"),
    "it": ("risposta automatica", "fuori sede"),
    "nl": ("automatisch antwoord", "afwezig"),
    "pt": ("resposta automatica", "ausente do escritorio"),
    "sv": ("automatiskt svar",),
    "da": ("automatisk svar",),
    "fi": ("automaattinen vastaus",),
    "pl": ("odpowiedz automatyczna", "automatyczna odpowiedz"),
    "ja": ("自動応答",),
    "zh": ("自动答复", "自動回覆"),
}
_PREFIX = re.compile(
    r"^\s*(?P<prefix>"
    + "|".join(sorted((re.escape(p) for ps in _PREFIXES.values() for p in ps), key=len)[::-1])
    + r")\s*[:：]"
)
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|antw|sv|vs|r|rif|res|odp|wg|fw|fwd|tr)\s*[:：]", re.I)
_ABSENCE = re.compile(
    r"out of (the )?office|away from (the )?office|on vacation|on holiday|on leave|"
    r"abwesenheit|nicht im bu(e)?ro|au(ss|ß)er haus|urlaub|"
    r"absence|absent du bureau|en conge|fuera de (la )?oficina|de vacaciones"
)
_PRECEDENCE = ("bulk", "junk", "list", "auto_reply")
_X_HEADERS = ("x-autoreply", "x-autorespond")
_EXCHANGE_RULES = "mailbox rules agent"


@dataclass(frozen=True)
class Evidence:
    """`automatic`: why the answer is certainly automatic; `doubt`: a weak sign that it may be
    (the answer still counts as a person's). Both "" when nothing suggests a machine."""

    automatic: str = ""
    doubt: str = ""


def evidence(headers: Mapping[str, str], subject: str, return_path: str | None) -> Evidence:
    """`headers` lower-cased names -> first value; `return_path` "" for the null sender."""
    auto = re.split(r"[;(]", headers.get("auto-submitted", ""))[0].strip().lower()
    if auto and auto != "no":
        return Evidence(automatic=f"Auto-Submitted: {auto}")
    for name in _X_HEADERS:
        if name in headers:
            return Evidence(automatic=f"{name}: {headers[name]}".strip())
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _PRECEDENCE:
        return Evidence(automatic=f"Precedence: {precedence}")
    prefix = automatic_reply_prefix(subject)
    suppress = "x-auto-response-suppress" in headers
    if suppress and prefix:
        return Evidence(automatic=f'X-Auto-Response-Suppress and the subject prefix "{prefix}"')
    if _EXCHANGE_RULES in headers.get("x-ms-exchange-generated-message-source", "").lower():
        return Evidence(automatic="sent by Exchange's mailbox rules (out-of-office)")
    return Evidence(doubt=_doubt(subject, prefix, suppress, return_path))


def automatic_reply_prefix(subject: str) -> str:
    """The automatic-reply prefix the subject starts with ("" when none), as written.

    >>> automatic_reply_prefix("Réponse automatique : Are you getting the most out of GitLab?")
    'Réponse automatique'
    >>> automatic_reply_prefix("Re: absence management in Ultimate?")
    ''
    """
    folded = _fold(subject)
    found = _PREFIX.match(folded)
    if not found:
        return ""
    start, end = found.span("prefix")
    return subject[start:end]  # folding keeps every character's position


def _doubt(subject: str, prefix: str, suppress: bool, return_path: str | None) -> str:
    if prefix:
        return f'the subject starts with "{prefix}", but no header says it is automatic'
    if suppress:
        return "X-Auto-Response-Suppress, without an automatic-reply subject"
    if return_path == "":
        return "sent with an empty Return-Path"
    if not _REPLY_PREFIX.match(subject) and _ABSENCE.search(_fold(subject)):
        return f'a new subject that speaks of an absence: "{subject}"'
    return ""


def _fold(text: str) -> str:
    """Lower case without accents, one character for one ("Réponse" -> "reponse")."""
    return "".join(_fold_char(c) for c in text)


def _fold_char(char: str) -> str:
    folded = unicodedata.normalize("NFD", char)[0].lower()
    return folded if len(folded) == 1 else char
