"""A hostile browser over real HTTP (uvicorn): saved cookies after logout, huge ids, broken
multipart bodies, non-CSV uploads; and the start-up refusal of a weak secret."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import subprocess

import httpx
from itsdangerous import TimestampSigner
from sqlmodel import select
from starlette.routing import Mount, Route

from campaign_engine.core.config import Settings
from campaign_engine.core.secretcheck import DEMO_SECRET
from campaign_engine.core.tokens import TokenKind, TokenSigner
from campaign_engine.store.models import Contact, Event, Exclusion, Message, User
from campaign_engine.web.app import create_app
from campaign_engine.web.auth import SESSION_COOKIE, session_key
from campaign_engine.web.pages import MOUNT
from campaign_engine.web.users import add_user, remove_user
from tests.conftest import ROOT, SmtpSink
from tests.helpers import CAMPAIGN, tick
from tests.web import serving
from tests.webapp_fixtures import (
    DANA,
    OPS,
    WebApp,
    at,
    csrf,
    draft_id,
    launched_fixture,  # noqa: F401  (fixture)
    web_fixture,  # noqa: F401  (fixture)
    web_settings_fixture,  # noqa: F401  (fixture)
)

HUGE = "99999999999999999999999"


def replay(web: WebApp, cookie: str, path: str) -> int:
    """A fresh client that only carries a cookie saved earlier."""
    with httpx.Client(base_url=web.url, cookies={SESSION_COOKIE: cookie}) as client:
        return client.get(path).status_code


def test_logout_ends_every_session_of_the_user_and_a_saved_cookie_is_dead(web: WebApp) -> None:
    with web.login(OPS) as first, web.login(OPS) as second:
        saved = first.cookies[SESSION_COOKIE]
        assert replay(web, saved, "/app/exclusions") == 200
        assert first.post("/app/logout", data={"csrf": csrf(first)}).status_code == 303
        for path in ("/app/exclusions", "/app/dashboard"):
            assert replay(web, saved, path) == 303  # back to the login page
        assert second.get("/app/exclusions").status_code == 303  # the other browser too
    with web.login(OPS) as again:  # logging in again works
        assert again.get("/app/exclusions").status_code == 200


def test_a_password_change_or_removal_ends_saved_sessions(web: WebApp) -> None:
    with web.login(OPS) as ops, web.login(DANA) as dana:
        saved_ops, saved_dana = ops.cookies[SESSION_COOKIE], dana.cookies[SESSION_COOKIE]
    assert replay(web, saved_ops, "/app/exclusions") == 200
    add_user(web.db, OPS, "ops", "a brand new password", at(4, 26), replace=True)
    assert replay(web, saved_ops, "/app/exclusions") == 303
    assert replay(web, saved_dana, "/app/drafts") == 200
    remove_user(web.db, DANA, at(4, 26))
    assert replay(web, saved_dana, "/app/drafts") == 303


def test_ids_out_of_range_are_404_not_500(web: WebApp) -> None:
    with web.login(OPS) as ops:
        token = csrf(ops)
        for path in (f"/app/drafts/{HUGE}", "/app/drafts/0", "/app/drafts/2147483648"):
            assert ops.get(path).status_code == 404
        assert ops.post(f"/app/drafts/{HUGE}/send", data={"csrf": token}).status_code == 404
        edit = {"csrf": token, "subject": "x", "body": "y"}
        assert ops.post(f"/app/drafts/{HUGE}/edit", data=edit).status_code == 404


def test_uploads_that_are_not_csv_are_refused_and_name_no_server_path(web: WebApp) -> None:
    corpus = ROOT / "tests" / "data" / "messy"
    with web.login(OPS) as ops:
        token = csrf(ops, "/app/exclusions")
        for name, expected in (
            ("random-bytes.csv", "not a CSV file: it looks like binary data"),
            ("contacts.xlsx", "not a CSV file: it looks like XLSX"),
            ("unterminated-quote.csv", "unterminated-quote.csv:3: a quote opened"),
            ("empty.csv", "empty.csv: the file is empty"),
        ):
            files = {"file": (name, (corpus / name).read_bytes(), "text/csv")}
            page = ops.post("/app/exclusions/upload", data={"csrf": token}, files=files)
            assert page.status_code == 400 and expected in page.text, page.text
            assert "/tmp" not in page.text and "campaign-upload-" not in page.text


def test_contact_form_without_closing_boundary_is_400_and_records_nothing(
    web: WebApp, smtp_sink: SmtpSink
) -> None:
    tick(web.db, web.settings, at(4, 27))
    with web.db.session() as session:
        message_id = session.exec(select(Message.id)).first()
    assert message_id is not None
    token = TokenSigner(web.settings.secret).sign(TokenKind.CONTACT, message_id)
    body = b'--XyZ\r\nContent-Disposition: form-data; name="message"\r\n\r\nhello'
    with httpx.Client(base_url=web.url) as client:
        response = client.post(
            f"/c/{token}",
            content=body,
            headers={
                "Content-Type": "multipart/form-data; boundary=XyZ",
                "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
            },
        )
        assert response.status_code == 400
        spelled = token.replace("-", "+").replace("_", "/")
        if spelled != token:  # a second spelling of the same bytes is not the token
            assert client.get(f"/c/{spelled}").status_code == 404
    with web.db.session() as session:
        kinds = session.exec(select(Event.kind)).all()
    assert "contact_request" not in kinds


def _start(command: str, settings: Settings, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "CAMPAIGN_CONFIG": str(settings.config_path), **env}
    return subprocess.run(
        [CAMPAIGN, *command.split()], env=environ, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


def test_serve_run_and_tick_refuse_a_weak_secret_on_a_public_base(settings: Settings) -> None:
    public = {"CAMPAIGN_TRACKING_BASE_URL": "https://t.example.com"}
    for secret, why in (
        ("demo-secret-change-me-0f6c2b1e9a4d", "demo value"),
        ("short-but-random-9f2c", "needs at least 32"),
        ("ab" * 20, "low-entropy"),
    ):
        for command in ("serve --port 1", "run --port 1", "tick"):
            done = _start(command, settings, CAMPAIGN_SECRET=secret, **public)
            assert done.returncode == 1, (command, done.stdout)
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and "refusing to start: secret" in lines[0] and why in lines[0]
        doctor = _start("doctor --no-smtp", settings, CAMPAIGN_SECRET=secret, **public)
        assert doctor.returncode == 1 and "error secret:" in " ".join(doctor.stdout.split())
    demo = _start(
        "tick --now 2021-04-20T09:00:00+00:00",
        settings,
        CAMPAIGN_SECRET="demo-secret-change-me-0f6c2b1e9a4d",
        CAMPAIGN_TRACKING_BASE_URL="http://127.0.0.1:8080",
    )
    assert demo.returncode == 0, demo.stderr  # the loopback demo still runs


def test_serve_and_run_refuse_the_shipped_secret_on_an_open_bind(settings: Settings) -> None:
    local = {"CAMPAIGN_TRACKING_BASE_URL": "http://127.0.0.1:8080"}
    for secret, command in (
        (DEMO_SECRET, "serve --host 0.0.0.0 --port 1"),
        (DEMO_SECRET, "run --host :: --port 1"),
        (DEMO_SECRET, "serve --host myhost --port 1"),  # a name may resolve anywhere
        ("short-but-random-9f2c", "serve --host 192.0.2.7 --port 1"),
    ):
        done = _start(command, settings, CAMPAIGN_SECRET=secret, **local)
        assert done.returncode == 1, (command, done.stdout)
        (line,) = done.stderr.strip().splitlines()
        host = command.split()[2]
        assert "refusing to start: secret " in line and f"--host {host} " in line
        assert "CAMPAIGN_SECRET" in line
    strong = _start(
        "serve --host 0.0.0.0 --port 99999", settings, CAMPAIGN_SECRET="9f" + os.urandom(24).hex()
    )
    assert "refusing" not in strong.stderr  # a strong secret may listen anywhere (bad port here)


def _forged(secret: str, payload: dict[str, object]) -> str:
    """A session cookie as Starlette writes one, signed with a key the attacker knows."""
    data = base64.b64encode(json.dumps(payload).encode("utf-8"))
    return TimestampSigner(session_key(secret)).sign(data).decode("ascii")


def test_a_cookie_forged_with_the_shipped_secret_is_no_session(web: WebApp) -> None:
    demo = dataclasses.replace(web.settings, secret=DEMO_SECRET)
    with serving(create_app(demo, web.db, clock=web.clock)) as url:
        shipped = WebApp(url, web.clock, demo, web.db)
        with shipped.login(OPS) as ops:  # a real login on this app works...
            assert ops.get("/app/exclusions").status_code == 200
            cookie = ops.cookies[SESSION_COOKIE]
        payload = json.loads(base64.b64decode(TimestampSigner(session_key(DEMO_SECRET)).unsign(
            cookie, max_age=3600)))  # fmt: skip
        assert set(payload) == {"sid", "csrf"} and len(payload["sid"]) >= 40
        with web.db.session() as session:
            (ops_id,) = session.exec(select(User.id).where(User.email == OPS)).all()
        login_at = web.clock.now.timestamp()
        mallory = {"email": "mallory@evil.example", "role": "ops", "password": "x" * 12}
        for forged in (
            {"uid": ops_id, "ver": 0, "login_at": login_at, "csrf": "x"},  # the old payload
            {"sid": str(ops_id), "csrf": "x"},
            {"sid": OPS, "csrf": "x"},
            {"sid": payload["sid"][::-1], "csrf": "x"},
        ):
            cookies = {SESSION_COOKIE: _forged(DEMO_SECRET, forged)}
            with httpx.Client(base_url=url, cookies=cookies) as client:
                assert client.get("/app/exclusions").status_code == 303  # to the login page
                added = client.post("/app/users/add", data={"csrf": "x", **mallory})
                assert added.status_code == 403
        assert replay(shipped, cookie, "/app/exclusions") == 200  # ...and stays one
    with web.db.session() as session:
        assert session.exec(select(User.email)).all().count("mallory@evil.example") == 0


def test_only_the_canonical_token_spelling_verifies() -> None:
    signer = TokenSigner("x" * 8 + "0123456789abcdef" * 3)
    for message_id in range(1, 400):
        token = signer.sign(TokenKind.CLICK, message_id, 3)
        assert signer.verify(token) is not None
        for before, after in (("-", "+"), ("_", "/")):
            if before in token:
                assert signer.verify(token.replace(before, after)) is None
        last = token[-1]
        flipped = token[:-1] + ("A" if last != "A" else "B")
        assert signer.verify(flipped) is None


# A value for each path parameter of the console's routes (a new parameter needs one here).
def _path_values(web: WebApp) -> dict[str, str]:
    with web.db.session() as session:
        contact_id = session.exec(
            select(Contact.id).where(Contact.email == "mia@midsize.example")
        ).one()
    return {
        "draft_id": str(draft_id(web.db, "mia@midsize.example", 1)),
        "contact_id": str(contact_id),
        "email": "mia@midsize.example",
        "rid": "20210426-090000-x",
        "n": "1",
        "key": "k",
        "list": "rejected",
        "review_id": "1",
        "upload_id": "1",
        "request_id": "1",
    }


def _console_posts(web: WebApp) -> list[str]:
    """Every path of the console that takes a POST, read from the app's own routes."""
    (console,) = [r for r in create_app(web.settings, web.db).routes
                  if isinstance(r, Mount) and r.path == MOUNT]  # fmt: skip
    values = _path_values(web)
    paths = []
    for route in console.routes:
        if isinstance(route, Route) and "POST" in (route.methods or set()):
            names = re.findall(r"{(\w+)(?::\w+)?}", route.path)
            missing = [name for name in names if name not in values]
            assert not missing, f"{route.path}: add a value for {missing} to _path_values"
            paths.append(MOUNT + re.sub(r"{(\w+)(?::\w+)?}", lambda m: values[m[1]], route.path))
    return paths


def _mode_of(web: WebApp, email: str) -> str:
    with web.db.session() as session:
        return session.exec(select(Contact.outreach_mode).where(Contact.email == email)).one()


def test_every_console_post_is_refused_without_the_sessions_csrf_token(web: WebApp) -> None:
    posts = _console_posts(web)
    assert {"/app/users/add", "/app/campaigns/pause", "/app/exclusions/upload",
            "/app/logout"} <= set(posts) and len(posts) >= 10  # fmt: skip
    mode_before = _mode_of(web, "mia@midsize.example")
    with web.login(OPS) as ops, web.login(OPS) as other:
        foreign = csrf(other)
        for path in posts:
            form = {"email": "mallory@evil.example", "role": "ops", "password": "x" * 12,
                    "mode": "A", "subject": "x", "body": "y", "target": "tiny.example",
                    "confirm": "yes", "sequence": "premium-to-ultimate"}  # fmt: skip
            assert ops.post(path, data=form).status_code == 403, path
            assert ops.post(path, data={**form, "csrf": foreign}).status_code == 403, path
            assert ops.post(path, data={**form, "csrf": ""}).status_code == 403, path
            upload = {"file": ("x.csv", b"email\nmia@midsize.example\n", "text/csv")}
            # as multipart with a file: 403, or 400 where the form takes no file
            assert ops.post(path, data=form, files=upload).status_code in (400, 403), path
        assert ops.get("/app/exclusions").status_code == 200  # still logged in: no logout ran
    with web.db.session() as session:
        assert session.exec(select(User.email)).all().count("mallory@evil.example") == 0
        assert session.exec(select(Exclusion)).all() == []
    assert _mode_of(web, "mia@midsize.example") == mode_before  # the mode form ("A") did nothing
