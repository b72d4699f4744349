"""Unit tests: password hashing, the session key, CSRF tokens, login cookies, safe redirects."""

from __future__ import annotations

import pytest

from campaign_engine.core.errors import InvalidInput
from campaign_engine.web.auth import (
    csrf_ok,
    csrf_token,
    session_key,
    session_login_id,
    start_session,
)
from campaign_engine.web.base import safe_next as _safe_next
from campaign_engine.web.base import upload_name as _upload_name
from campaign_engine.web.passwords import hash_password, verify_password


def test_passwords_are_hashed_with_argon2id_and_verified() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct" not in stored
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse batterY")
    assert not verify_password(None, "correct horse battery")  # unknown user
    assert not verify_password("not a hash", "correct horse battery")
    with pytest.raises(InvalidInput, match="at least 10 characters"):
        hash_password("short")


def test_the_cookie_key_is_derived_and_differs_from_the_tracking_secret() -> None:
    key = session_key("test-secret-7f3a9c2e51b84d06a1e6c9f02b7d4e8a")
    assert key == session_key("test-secret-7f3a9c2e51b84d06a1e6c9f02b7d4e8a") and len(key) == 64
    assert key != "test-secret-7f3a9c2e51b84d06a1e6c9f02b7d4e8a" and key != session_key(
        "other-secret"
    )


def test_csrf_tokens_belong_to_one_session() -> None:
    mine: dict[str, object] = {}
    theirs: dict[str, object] = {}
    token = csrf_token(mine)
    assert csrf_token(mine) == token and len(token) >= 40
    assert csrf_ok(mine, token)
    assert not csrf_ok(mine, csrf_token(theirs))
    assert not csrf_ok(mine, "") and not csrf_ok(mine, None) and not csrf_ok({}, token)


def test_a_login_starts_a_fresh_cookie_session_that_names_only_the_login() -> None:
    session: dict[str, object] = {"csrf": "anonymous", "next": "/x", "uid": 1}
    start_session(session, "random-login-id")
    assert set(session) == {"sid", "csrf"} and session["csrf"] != "anonymous"
    assert session_login_id(session) == "random-login-id"
    assert session_login_id({"uid": 1, "ver": 0}) is None and session_login_id({"sid": 7}) is None


@pytest.mark.parametrize(
    ("path", "safe"),
    [
        ("/drafts?status=all", "/drafts?status=all"),
        ("//evil.example/x", ""),
        ("https://evil.example/", ""),
        ("/\\evil.example", ""),
        ("", ""),
    ],
)
def test_after_login_only_paths_of_the_app_are_followed(path: str, safe: str) -> None:
    assert _safe_next(path) == safe


def test_upload_names_keep_only_the_file_name() -> None:
    assert _upload_name("C:\\Users\\olga\\target list.csv") == "target list.csv"
    assert _upload_name("../../etc/passwd") == "passwd"
    assert _upload_name("a\r\nb<script>.csv") == "a__b_script_.csv"
    assert _upload_name("") == "upload.csv"
