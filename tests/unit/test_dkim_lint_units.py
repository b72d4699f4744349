"""[dkim] settings, key helpers, and the pure link checks of `campaign lint`."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from campaign_engine.core.config import load_settings
from campaign_engine.core.errors import ConfigError
from campaign_engine.sending.dkim import (
    _RELAXED,
    DkimSigner,
    _relaxed_body,
    dns_record,
    public_key_of,
    valid_domain,
)
from campaign_engine.sending.lint import _link_problem

ROOT = Path(__file__).resolve().parents[2]
TRACK = "https://track.example.com"


def test_dkim_is_off_by_default_and_set_from_env_with_relative_key_path() -> None:
    assert not load_settings(ROOT / "config.toml", environ={}).dkim.enabled
    settings = load_settings(
        ROOT / "config.toml",
        environ={
            "CAMPAIGN_DKIM_SELECTOR": "s1",
            "CAMPAIGN_DKIM_DOMAIN": "example.com",
            "CAMPAIGN_DKIM_PRIVATE_KEY_PATH": "var/dkim.pem",
        },
    )
    assert settings.dkim.enabled
    assert settings.dkim.private_key_path == ROOT / "var" / "dkim.pem"


def test_unreadable_or_non_rsa_keys_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a readable PEM key"):
        DkimSigner("s1", "example.com", b"not a key")
    settings = load_settings(
        ROOT / "config.toml",
        environ={
            "CAMPAIGN_DKIM_SELECTOR": "s1",
            "CAMPAIGN_DKIM_DOMAIN": "example.com",
            "CAMPAIGN_DKIM_PRIVATE_KEY_PATH": str(tmp_path / "missing.pem"),
        },
    )
    with pytest.raises(ConfigError, match="campaign dkim keygen"):
        DkimSigner.from_settings(settings.dkim)


def test_dns_record_splits_long_values_into_255_character_strings() -> None:
    record = dns_record("s1", "example.com", "A" * 400)
    assert record.startswith('s1._domainkey.example.com. IN TXT ( "v=DKIM1; k=rsa; p=AAA')
    strings = re.findall(r'"([^"]*)"', record)
    assert [len(s) for s in strings] == [255, 400 + len("v=DKIM1; k=rsa; p=") - 255]
    assert "".join(strings) == "v=DKIM1; k=rsa; p=" + "A" * 400
    with pytest.raises(ValueError):
        public_key_of(b"-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n")


def test_domains() -> None:
    assert valid_domain("mail.example.co.uk")
    assert not valid_domain("localhost") and not valid_domain("exa mple.com")


@pytest.mark.parametrize(
    ("href", "problem"),
    [
        (f"{TRACK}/c/abc", None),
        ("mailto:rep@example.com", None),
        ("#top", None),
        ("https://about.gitlab.com/pricing/", "untracked link"),
        ("htp://example.com", "broken link"),
        ("https://exa mple.com/", "broken link"),
        ("https:///nohost", "broken link"),
        ("https://{{ offer.url }}", "broken link"),
        ("https://intranet/x", "broken link"),
    ],
)
def test_link_problems(href: str, problem: str | None) -> None:
    found = _link_problem(href, TRACK)
    assert (found is None) if problem is None else (found is not None and found.startswith(problem))


def test_fast_relaxed_body_matches_dkimpy() -> None:
    rng = random.Random(7)
    pieces = [b"a", b"b=", b" ", b"  ", b"\t", b"\r\n", b"\r", b"\n", b"=3D", b"\r\n\r\n"]
    samples = [b"", b"\r\n", b"\r\n\r\n", b"x", b"x\r\n\r\n\r\n", b"x \r\ny"]
    samples += [
        b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))) for _ in range(3000)
    ]
    # What build_mime makes: CRLF lines, no tabs, runs of spaces only inside a line
    spaced = [b"a", b"b=", b" ", b"  ", b"   ", b"\r\n", b"=3D", b"\r\n\r\n"]
    samples += [b"and  looks\r\n", b"a  b  c", b"x  ", b"  x\r\n\r\n"]
    samples += [
        b"".join(rng.choice(spaced) for _ in range(rng.randint(0, 30))) for _ in range(3000)
    ]
    for body in samples:
        assert _relaxed_body(body) == _RELAXED.canonicalize_body(body), body
