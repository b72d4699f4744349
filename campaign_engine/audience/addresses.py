"""Email address validation: email-validator's answer, with a fast path for plain addresses.

Most rows of a contacts file hold a plain ASCII `local@host.tld` address, and a file names few
domains. For those, email-validator's result is the input lower-cased once its domain is known
to be valid: the local part is a dot-atom (valid whatever its length when not strict), an ASCII
host name normalises to itself lower-cased, and an address of at most 254 ASCII characters
passes every length check. So the domain is validated once (by email-validator, cached) and the
address is only matched against a pattern. Anything else (non-ASCII, quotes, Punycode, too long,
an invalid domain) goes through email-validator whole, so results and error messages are its own.
"""

from __future__ import annotations

import functools
import re

from email_validator import EmailNotValidError, validate_email

__all__ = ["clean_email"]

_ATEXT = r"[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]+"  # RFC 5322 atext, as email-validator has it
_PLAIN = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@([a-zA-Z0-9.\-]+)")
_MAX_LENGTH = 254  # email-validator's EMAIL_MAX_LENGTH (RFC 3696 errata 1690)


def clean_email(value: str) -> str:
    """The lower-cased, validated address, or ValueError saying what is wrong with it."""
    value = value.strip()
    if not value:
        raise ValueError("is empty")
    plain = _PLAIN.fullmatch(value) if len(value) <= _MAX_LENGTH else None
    if plain is not None and _plain_domain(plain.group(1)):
        return value.lower()
    return _validated(value)


@functools.lru_cache(maxsize=256)  # owner addresses repeat on every row of their accounts
def _validated(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not a valid address: {exc}") from None


@functools.lru_cache(maxsize=4096)
def _plain_domain(domain: str) -> bool:
    """Whether email-validator accepts this ASCII domain and keeps it as it is, lower-cased
    (a Punycode domain comes back in Unicode: not plain)."""
    try:
        return validate_email(f"a@{domain}", check_deliverability=False).domain == domain.lower()
    except EmailNotValidError:
        return False
