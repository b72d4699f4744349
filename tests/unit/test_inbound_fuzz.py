"""The parser and the classifier on malformed mail: whatever arrives, no exception escapes."""

from __future__ import annotations

import time

from campaign_engine.inbound.classify import classify
from campaign_engine.inbound.parse import parse_mail
from campaign_engine.inbound.reply_text import reply_text
from tests.malformed_mail import malformed_corpus


def test_no_malformed_message_makes_the_parser_or_the_classifier_raise() -> None:
    slow = []
    for name, raw in malformed_corpus(count=600):
        started = time.monotonic()
        mail = parse_mail(raw)
        classify(mail, "optout@gitlab-demo.example")
        reply_text(mail.text)
        assert "\x00" not in mail.subject + mail.text + "".join(mail.headers.values()), name
        assert len(mail.key.encode()) <= 900, name
        if time.monotonic() - started > 5:
            slow.append(name)
    assert slow == []


def test_an_undecodable_subject_is_kept_as_written() -> None:
    raw = b"From: a@b.example\r\nSubject: =?x-unknown-charset?B?!!!notbase64?=\r\n\r\nhi\r\n"
    mail = parse_mail(raw)
    assert mail.subject == "=?x-unknown-charset?B?!!!notbase64?="
    assert (mail.from_address, mail.text.strip()) == ("a@b.example", "hi")


def test_a_message_rfc822_nested_a_thousand_deep_is_read_by_its_headers() -> None:
    inner = b"Subject: bottom\r\n\r\nhi\r\n"
    for _ in range(1000):
        inner = b"Content-Type: message/rfc822\r\n\r\n" + inner
    mail = parse_mail(b"From: a@b.example\r\nSubject: top\r\n" + inner)
    assert (mail.subject, mail.from_address) == ("top", "a@b.example")
