"""Password hashing for web-app users: argon2id (argon2-cffi), never the password itself."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from campaign_engine.core.errors import InvalidInput

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "check_password", "hash_password", "verify_password"]

MIN_LENGTH = 10  # characters
MAX_LENGTH = 1024  # a longer "password" is an attempt to make hashing slow
_HASHER = PasswordHasher()  # argon2id with the library's current defaults


def check_password(password: str) -> str:
    """The password if it is acceptable; else InvalidInput saying what is wrong."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"the password must have at most {MAX_LENGTH} characters")
    if password != password.strip("\r\n"):
        raise InvalidInput("the password must not start or end with a line break")
    return password


def hash_password(password: str) -> str:
    return _HASHER.hash(check_password(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing hash costs the same time and is False."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """What a password is checked against when the user does not exist, so that takes as long
    as a real check (made on first use: hashing takes a while)."""
    return _HASHER.hash("not a password of anyone's")
