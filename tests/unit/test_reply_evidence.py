"""Auto-reply or a person? Real clients' header sets, and subjects that only sound automatic."""

from __future__ import annotations

import re

import pytest

from campaign_engine.core.kinds import InboundKind
from campaign_engine.inbound.autoreply import automatic_reply_prefix
from campaign_engine.inbound.classify import classify
from campaign_engine.inbound.parse import parse_mail
from tests.inbound_mail import DATA

AUTOMATIC = {
    "exchange-online-oof-en.eml": "Auto-Submitted: auto-generated",
    "exchange-ooo-de.eml": "Auto-Submitted: auto-generated",
    "exchange2007-oof-fr.eml": 'X-Auto-Response-Suppress and the subject prefix "Réponse automatique"',
    "exchange-rule-reply-sv.eml": "sent by Exchange's mailbox rules (out-of-office)",
    "gmail-ooo-en.eml": "Auto-Submitted: auto-replied",
    "gmail-vacation-es.eml": "Auto-Submitted: auto-replied",
    "dovecot-sieve-vacation-nl.eml": "Auto-Submitted: auto-replied",
    "zimbra-ooo-it.eml": "Auto-Submitted: auto-replied",
    "vacation-autorespond-pt.eml": "x-autorespond: Interested in speed and security?",
}
PEOPLE = [
    "thunderbird-reply-absence-en.eml",  # "Re: absence management in Ultimate?"
    "outlook-reply-urlaub-de.eml",  # "AW: Urlaub bis 10.5. – danach gern ein Termin"
    "gmail-reply-out-of-office-en.eml",  # "Re: out of office next week, can we talk after?"
    "applemail-reply-holiday-fr.eml",  # "Re: Congés et holiday freeze : ..."
    "zimbra-reply-leave-it.eml",  # "R: on leave until Friday, then let's talk Ultimate"
    "gmail-reply-en.eml",
    "outlook-reply-de.eml",
]


def fixture(name: str) -> bytes:
    text = re.sub(r"\{\{[A-Z]+:([^}]+)\}\}", r"<\1>", (DATA / name).read_text(encoding="utf-8"))
    return text.replace("\n", "\r\n").encode()


@pytest.mark.parametrize(("name", "reason"), sorted(AUTOMATIC.items()))
def test_an_automatic_answer_is_known_by_its_headers(name: str, reason: str) -> None:
    verdict = classify(parse_mail(fixture(name)))
    assert (verdict.kind, verdict.status) == (InboundKind.AUTO_REPLY, reason)


@pytest.mark.parametrize("name", PEOPLE)
def test_a_person_whose_subject_speaks_of_absence_is_a_person(name: str) -> None:
    verdict = classify(parse_mail(fixture(name)))
    assert (verdict.kind, verdict.may_be_automatic) == (InboundKind.REPLY, "")


def test_an_automatic_subject_without_any_header_is_a_person_who_may_be_a_machine() -> None:
    verdict = classify(parse_mail(fixture("webmail-ooo-subject-only.eml")))
    assert verdict.kind == InboundKind.REPLY
    assert verdict.may_be_automatic == (
        'the subject starts with "Out of Office", but no header says it is automatic'
    )


def mail(headers: str) -> bytes:
    return (headers.strip().replace("\n", "\r\n") + "\r\n\r\nHello").encode()


@pytest.mark.parametrize(
    ("headers", "kind", "doubt"),
    [
        ("Subject: Re: offer\nAuto-Submitted: no", InboundKind.REPLY, ""),
        ("Subject: Re: offer\nAuto-Submitted: auto-notified", InboundKind.AUTO_REPLY, ""),
        ("Subject: Re: offer\nX-Autoreply: yes", InboundKind.AUTO_REPLY, ""),
        ("Subject: Re: offer\nPrecedence: list", InboundKind.AUTO_REPLY, ""),
        ("Subject: Re: offer\nPrecedence: first-class", InboundKind.REPLY, ""),
        (
            "Subject: AW: offer\nX-Auto-Response-Suppress: All",
            InboundKind.REPLY,
            "X-Auto-Response-Suppress, without an automatic-reply subject",
        ),
        (
            "Subject: Automatische Antwort: offer\nX-Auto-Response-Suppress: DR, OOF",
            InboundKind.AUTO_REPLY,
            "",
        ),
        (
            "Subject: Re: offer\nReturn-Path: <>",
            InboundKind.REPLY,
            "sent with an empty Return-Path",
        ),
        (
            "Subject: Urlaub",
            InboundKind.REPLY,
            'a new subject that speaks of an absence: "Urlaub"',
        ),
        ("Subject: Re: Urlaubsvertretung und Freigaben", InboundKind.REPLY, ""),
    ],
)
def test_what_each_sign_is_worth(headers: str, kind: InboundKind, doubt: str) -> None:
    verdict = classify(parse_mail(mail("From: a@b.example\n" + headers)))
    assert (verdict.kind, verdict.may_be_automatic) == (kind, doubt)


@pytest.mark.parametrize(
    ("subject", "prefix"),
    [
        ("Automatic reply: offer", "Automatic reply"),
        ("Réponse automatique : offer", "Réponse automatique"),
        ("Reponse automatique: offer", "Reponse automatique"),
        ("Respuesta automática: offer", "Respuesta automática"),
        ("Risposta automatica: offer", "Risposta automatica"),
        ("Automatisch antwoord: offer", "Automatisch antwoord"),
        ("Odpowiedź automatyczna: offer", "Odpowiedź automatyczna"),
        ("自動応答: offer", "自動応答"),
        ("Auto: offer", "Auto"),
        ("Autoscaling: offer", ""),
        ("Re: Automatic reply: offer", ""),
    ],
)
def test_automatic_reply_prefixes_in_the_clients_languages(subject: str, prefix: str) -> None:
    assert automatic_reply_prefix(subject) == prefix
