"""DKIM signatures made by our own canonicalisation (RSA and Ed25519, in-process and in the
signing pool) verify with dkimpy against the published keys, served by a stub DNS lookup."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import dkim
import pytest

from campaign_engine.core.config import DkimSettings, Settings, load_settings
from campaign_engine.sending.dkim import (
    DkimSigner,
    dkim_txt_value,
    ed25519_txt_value,
    generate_ed25519_key,
    generate_key,
)
from campaign_engine.sending.mime import build_mime, list_headers
from campaign_engine.sending.signing_pool import CHUNK, MIN_POOLED, SigningPool, signed_stream
from campaign_engine.sending.transport import Delivery, make_transport
from tests.conftest import SmtpSink

DOMAIN = "gitlab-demo.example"
RSA = generate_key()
ED = generate_ed25519_key()
DNS = {
    f"rsa2026._domainkey.{DOMAIN}.".encode(): dkim_txt_value(RSA.public_b64),
    f"ed2026._domainkey.{DOMAIN}.".encode(): ed25519_txt_value(ED.public_b64),
}


def dns(name: bytes, timeout: int = 5) -> bytes:
    return DNS[name]


def verified(raw: bytes) -> list[bool]:
    """One result per DKIM-Signature header, top to bottom."""
    count = raw.split(b"\r\n\r\n", 1)[0].count(b"DKIM-Signature:")
    checker = dkim.DKIM(raw)
    results = []
    for i in range(count):
        try:
            results.append(bool(checker.verify(idx=i, dnsfunc=dns)))
        except dkim.DKIMException:
            results.append(False)
    return results


def message(number: int, subject: str = "Interested in speed?") -> bytes:
    return build_mime(
        from_header="Dana Reyes <dana.reyes@gitlab-demo.example>",
        to_header=f"Ada Lovelace <ada{number}@tiny.example>",
        subject=subject,
        html=f"<p>Hello Ada {number},  see <a href='https://x.example/{number}'>this</a></p>\n\n",
        text=f"Hello Ada {number},\tsee https://x.example/{number}  \n\n\n",
        message_id=f"<{number}@gitlab-demo.example>",
        date="Tue, 27 Apr 2021 09:00:00 +0000",
        extra_headers=list_headers(f"https://t.example/u/{number}", "p2u", DOMAIN),
    )


def rsa_only() -> DkimSigner:
    return DkimSigner("rsa2026", DOMAIN, RSA.private_pem)


def dual() -> DkimSigner:
    return DkimSigner("rsa2026", DOMAIN, RSA.private_pem, "ed2026", ED.private_pem)


def test_rsa_signature_verifies_and_a_changed_body_does_not() -> None:
    signed = rsa_only().sign(message(1, "Grüße aus Berlin"))
    assert verified(signed) == [True]
    assert verified(signed.replace(b"Hello Ada 1", b"Hello Eve 1")) == [False]


def test_folded_repeated_and_spaced_headers_are_canonicalised_like_dkimpy() -> None:
    raw = (
        b"From: Dana  Reyes <dana@gitlab-demo.example>\r\n"
        b"Subject: first\r\n"
        b"To:\t Ada\r\n\t <ada@tiny.example>  \r\n"
        b"Subject: second   one \r\n"
        b"Date: Tue, 27 Apr 2021 09:00:00 +0000\r\n"
        b"\r\n"
        b"body  with\t spaces \r\n\r\n\r\n"
    )
    assert verified(rsa_only().sign(raw)) == [True]
    # A relay refolding the To header or changing its whitespace keeps the signature valid.
    refolded = rsa_only().sign(raw).replace(b"To:\t Ada\r\n\t <", b"To: Ada <")
    assert verified(refolded) == [True]


def test_dual_signed_message_carries_a_valid_rsa_and_ed25519_signature() -> None:
    signed = dual().sign(message(2))
    head = signed.split(b"\r\n\r\n", 1)[0]
    assert b"a=rsa-sha256" in head and b"a=ed25519-sha256" in head
    assert verified(signed) == [True, True]


def test_the_signing_pool_signs_in_worker_processes_and_the_signatures_verify() -> None:
    pool = SigningPool(dual(), processes=2)
    try:
        pool.start()
        assert pool.ready
        raws = [message(n) for n in range(MIN_POOLED + 5)]
        signed = pool.sign(raws)
    finally:
        pool.close()
    assert [verified(s) for s in signed] == [[True, True]] * len(raws)
    assert [s.split(b"\r\n\r\n", 1)[1] for s in signed] == [
        r.split(b"\r\n\r\n", 1)[1] for r in raws
    ]


def test_when_a_signing_worker_dies_the_messages_are_signed_in_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = SigningPool(rsa_only(), processes=2)
    try:
        pool.start()
        assert pool._executor is not None
        workers = list(pool._executor._processes.values())
        for worker in workers:  # all of them: no task can then succeed by luck
            worker.kill()
            worker.join()
        raws = [message(n) for n in range(MIN_POOLED * 2)]
        signed = [*pool.sign(raws), *pool.sign(raws)]
    finally:
        pool.close()
    assert [verified(s) for s in signed] == [[True]] * len(raws) * 2
    assert "signing in-process from now on" in caplog.text


def test_a_message_that_cannot_be_signed_is_refused_alone_and_the_stream_goes_on() -> None:
    broken = b"From: a@b.example\nnot a header line\n\nbody\n"
    raws = [message(n) for n in range(5)] + [broken] * (CHUNK + 1) + [message(9)]
    deliveries = [
        Delivery(n, "dana@x.example", "ada@tiny.example", raw) for n, raw in enumerate(raws)
    ]
    refused: list[int] = []
    stream = signed_stream(SigningPool(rsa_only()), deliveries, lambda d, _: refused.append(d.key))
    signed = list(stream)
    assert [d.key for d in signed] == [0, 1, 2, 3, 4, len(raws) - 1]
    assert refused == list(range(5, 5 + CHUNK + 1))
    assert all(verified(d.raw) == [True] for d in signed)


def test_every_message_of_a_large_batch_arrives_once_and_signed(
    settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    (tmp_path / "rsa.pem").write_bytes(RSA.private_pem)
    (tmp_path / "ed.pem").write_bytes(ED.private_pem)
    dkim_settings = DkimSettings(
        "rsa2026", DOMAIN, tmp_path / "rsa.pem", "ed2026", tmp_path / "ed.pem"
    )
    signing = dataclasses.replace(settings, transport="smtp", dkim=dkim_settings)
    deliveries = [
        Delivery(n, "dana@gitlab-demo.example", f"ada{n}@tiny.example", message(n))
        for n in range(150)
    ]

    async def send() -> list[bool]:
        async with make_transport(signing) as transport:
            return [o.ok for o in await transport.deliver(iter(deliveries))]

    assert asyncio.run(send()) == [True] * 150
    received = sorted(e.rcpt_tos[0] for e in smtp_sink.envelopes)
    assert received == sorted(f"ada{n}@tiny.example" for n in range(150))
    for envelope in smtp_sink.envelopes:
        assert verified(envelope.original_content or b"") == [True, True]


def test_ed25519_settings_resolve_relative_to_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'secret = "s"\n[dkim]\nselector = "rsa2026"\ndomain = "x.example"\nprivate_key_path = "rsa.pem"\n'
        'ed25519_selector = "ed2026"\ned25519_private_key_path = "keys/ed.pem"\n'
    )
    settings = load_settings(config, environ={}).dkim
    assert settings.ed25519_private_key_path == tmp_path / "keys" / "ed.pem"
    assert settings.ed25519_selector == "ed2026"


def test_an_ed25519_key_without_its_selector_is_refused() -> None:
    from campaign_engine.core.errors import ConfigError

    with pytest.raises(ConfigError, match="ed25519_selector"):
        DkimSigner("rsa2026", DOMAIN, RSA.private_pem, "", ED.private_pem)
