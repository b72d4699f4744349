"""clean_email gives exactly email-validator's answer (address or error), fast path or not."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from email_validator import EmailNotValidError, validate_email

from campaign_engine.audience.addresses import clean_email

MESSY = Path(__file__).parents[1] / "data" / "messy"

TRICKY = [
    "ada@tiny.example",
    "Ada.Lovelace@Tiny.Example",
    "ADA@TINY.EXAMPLE",
    "  ada@tiny.example \t",
    "info@tiny.example",
    "INFO@Tiny.Example",
    "first.last+tag@sub.domain.example.com",
    "a!#$%&'*+-/=?^_`{|}~b@tiny.example",
    "x@a.b.c.d.e.f.example",
    "1234567890@numbers.example",
    "ada@tiny-firm.example",
    "ada@tiny--firm.example",
    "ada@ab--cd.example",
    "ada@xn--bcher-kva.example",
    "ada@XN--BCHER-KVA.example",
    "ada@xn--.example",
    "ada@xn--abc.example",
    "ada@bücher.example",
    "ada@BÜCHER.example",
    "ada@ＢＵＣＨＥＲ.example",
    "ada@tiny。example",
    "ada@tiny．example",
    "ada@münchen.de",
    "ada@xn--mnchen-3ya.de",
    "ada@1.xn--4dbc.com",
    "ada@אב.com",
    "jörg@tiny.example",
    "Jörg@Tiny.Example",
    "用户@例子.广告",
    "e\u0301@tiny.example",
    "é@tiny.example",
    '"ada lovelace"@tiny.example',
    '"ada"@tiny.example',
    '"ada@home"@tiny.example',
    '"a\\"b"@tiny.example',
    '"Ada"@Tiny.Example',
    "Ada Lovelace <ada@tiny.example>",
    "<ada@tiny.example>",
    "ada@tiny.example.",
    "ada.@tiny.example",
    ".ada@tiny.example",
    "ada..lovelace@tiny.example",
    "ada@.tiny.example",
    "ada@tiny..example",
    "ada@-tiny.example",
    "ada@tiny-.example",
    "ada@tiny.-example",
    "ada@tiny.example-",
    "ada@tiny",
    "ada@localhost",
    "ada@tiny.123",
    "ada@tiny.example1",
    "ada@tiny.test",
    "ada@tiny.invalid",
    "ada@tiny.local",
    "ada@example",
    "ada@example.com",
    "ada@onion",
    "ada@x.onion",
    "ada@tiny.arpa",
    "ada@[192.168.0.1]",
    "ada@[IPv6:::1]",
    "ada@@tiny.example",
    "ada@tiny@example.com",
    "@tiny.example",
    "ada@",
    "ada",
    "ada tiny.example",
    "ada @tiny.example",
    "ada@ tiny.example",
    "ada@tiny .example",
    "ada@tiny_example.com",
    "ada@tiny,example.com",
    "ada,lovelace@tiny.example",
    "ada;b@tiny.example",
    "ada(comment)@tiny.example",
    "ada\\@tiny.example",
    "ada\n@tiny.example",
    "ada@tiny.example\n",
    "ada@tiny.example\x00",
    "ada\u200b@tiny.example",
    "ada@tiny\u200b.example",
    "ada@tiny.example\u202e",
    "ada＠tiny.example",
    "ada﹫tiny.example",
    "ada@tiny.exampl\u0301e",
    "a" * 64 + "@tiny.example",
    "a" * 65 + "@tiny.example",
    "a" * 200 + "@tiny.example",
    "a" * 241 + "@tiny.example",
    "a" * 242 + "@tiny.example",
    "ada@" + "a" * 63 + ".example",
    "ada@" + "a" * 64 + ".example",
    "ada@" + ".".join(["a" * 60] * 4) + ".ex",
    "ada@" + ".".join(["a" * 61] * 4) + ".ex",
    "ada@" + ".".join(["b" * 50] * 5),
]


def _expected(value: str) -> str:
    """What email-validator alone says, as clean_email words it."""
    value = value.strip()
    if not value:
        return "error: is empty"
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        return f"error: {value!r} is not a valid address: {exc}"


def _actual(value: str) -> str:
    try:
        return clean_email(value)
    except ValueError as exc:
        return f"error: {exc}"


def _messy_addresses() -> list[str]:
    found: set[str] = set()
    for path in MESSY.iterdir():
        if path.suffix in (".csv", ".tsv", ".txt"):
            text = path.read_bytes().decode("utf-8", errors="replace")
            for cell in text.replace(";", ",").replace("\t", ",").replace("\n", ",").split(","):
                if "@" in cell:
                    found.add(cell.strip().strip('"'))
    return sorted(found)


def _fuzzed(count: int) -> list[str]:
    """Plain-looking addresses with one tricky character or case change spliced in."""
    rng = random.Random(21)
    pieces = [*"aZ09.-_+@\"' <>[](),;:\\", "é", "ß", "\u0301", "\u200b", "。", "xn--", "İ"]
    bases = ["ada.lovelace@tiny.example", "Info@Big-Corp.co.uk", "x@y.io", "sales@a.b.example"]
    found = []
    for _ in range(count):
        chars = list(rng.choice(bases))
        for _ in range(rng.randint(1, 3)):
            chars.insert(rng.randrange(len(chars) + 1), rng.choice(pieces))
        found.append("".join(chars))
    return found


@pytest.mark.parametrize("value", TRICKY)
def test_tricky_addresses_match_email_validator(value: str) -> None:
    assert _actual(value) == _expected(value)


def test_messy_corpus_and_fuzzed_addresses_match_email_validator() -> None:
    corpus = _messy_addresses() + _fuzzed(5000)
    assert len(corpus) > 5000
    mismatches = [(v, _actual(v), _expected(v)) for v in corpus if _actual(v) != _expected(v)]
    assert mismatches == []


def test_plain_address_is_lower_cased_and_a_bad_one_names_its_fault() -> None:
    assert clean_email(" Ada.Lovelace@Tiny-Firm.Example ") == "ada.lovelace@tiny-firm.example"
    with pytest.raises(ValueError, match="It should have a period"):
        clean_email("ada@tiny")
