"""The pure parts of the inbound pipeline: return dates, address tags, classification rules."""

from __future__ import annotations

import pytest

from campaign_engine.core.kinds import InboundKind
from campaign_engine.core.tokens import TokenKind, TokenSigner
from campaign_engine.inbound.classify import classify
from campaign_engine.inbound.parse import parse_mail
from campaign_engine.inbound.return_dates import return_date
from campaign_engine.sending.reply_addresses import tag_of, tagged


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I am out of the office until Monday, May 10, 2021.", "2021-05-10"),
        ("Back on 3rd May 2021, limited access until then.", "2021-05-03"),
        ("Ich bin bis 7. Mai 2021 im Urlaub, ab dem 10.05.2021 wieder im Büro.", "2021-05-10"),
        ("Je serai de retour le 12 mai 2021.", "2021-05-12"),
        ("Estoy fuera; regreso el 3 de mayo de 2021.", "2021-05-03"),
        ("Returning 2021-06-01.", "2021-06-01"),
        ("Ich bin im Urlaub und am 10.05.2021 wieder im Büro.", "2021-05-10"),
        ("Vom 3.5.2021 bis zum 7. Mai 2021 abwesend; am 10. Mai 2021 zurück.", "2021-05-10"),
        ("Le 12 mai 2021 je serai de retour.", "2021-05-12"),
        ("I am travelling with limited access to email.", ""),
        ("Back on 31 February 2021.", ""),
    ],
)
def test_the_return_date_an_out_of_office_states(text: str, expected: str) -> None:
    assert return_date(text) == expected


def test_address_tags_are_signed_and_case_insensitive() -> None:
    signer = TokenSigner("s")
    address = tagged("replies@example.com", signer.sign_tag(TokenKind.REPLY, 42))
    tag = tag_of(address.upper(), "replies@example.com")
    assert tag is not None
    payload = signer.verify_tag(tag)
    assert payload is not None and (payload.kind, payload.message_id) == (TokenKind.REPLY, 42)
    assert TokenSigner("other").verify_tag(tag) is None
    assert tag_of("replies@example.com", "replies@example.com") is None
    assert tag_of("replies+x@other.example", "replies@example.com") is None


def mail(headers: str, body: str = "Hello") -> bytes:
    return (headers.strip().replace("\n", "\r\n") + "\r\n\r\n" + body).encode()


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ("From: a@b.example\nSubject: Re: offer\nAuto-Submitted: no", InboundKind.REPLY),
        (
            "From: a@b.example\nSubject: Re: offer\nAuto-Submitted: auto-replied",
            InboundKind.AUTO_REPLY,
        ),
        ("From: a@b.example\nSubject: Re: offer\nX-Autoreply: yes", InboundKind.AUTO_REPLY),
        ("From: a@b.example\nSubject: Re: offer\nPrecedence: junk", InboundKind.AUTO_REPLY),
        ("From: a@b.example\nSubject: Re: offer\nReturn-Path: <>", InboundKind.REPLY),
        ("From: a@b.example\nSubject: Abwesenheitsnotiz: offer", InboundKind.REPLY),
        ("From: a@b.example\nSubject: Réponse automatique : offer", InboundKind.REPLY),
        ("From: a@b.example\nSubject: Fuera de la oficina: offer", InboundKind.REPLY),
        (
            "From: a@b.example\nTo: optout@x.example\nSubject: unsubscribe abc",
            InboundKind.UNSUBSCRIBE,
        ),
        ("From: a@b.example\nTo: other@x.example\nSubject: unsubscribe abc", InboundKind.REPLY),
    ],
)
def test_what_the_headers_make_of_a_message(headers: str, kind: InboundKind) -> None:
    assert classify(parse_mail(mail(headers)), "optout@x.example").kind == kind


def test_a_delivery_report_without_a_failure_is_only_a_notice() -> None:
    raw = mail(
        "From: MAILER-DAEMON@x.example\nSubject: Delivered\nMIME-Version: 1.0\nContent-Type:"
        ' multipart/report; report-type=delivery-status; boundary="b"',
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
        "Final-Recipient: rfc822; a@b.example\r\nAction: delivered\r\nStatus: 2.0.0\r\n--b--\r\n",
    )
    verdict = classify(parse_mail(raw))
    assert verdict.kind == InboundKind.NOTICE


def test_mail_without_a_message_id_is_keyed_by_its_bytes() -> None:
    first, second = parse_mail(mail("From: a@b.example")), parse_mail(mail("From: c@b.example"))
    assert first.key.startswith("sha256:") and first.key != second.key
