"""The JSON API over real HTTP (uvicorn on loopback): roles, bad tokens, validation errors as
problem+json, the OpenAPI document, and the event feed's cursor."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from openapi_spec_validator import validate
from sqlmodel import Session, select

from campaign_engine.api.app import MAX_BODY_BYTES
from campaign_engine.api.tokens import create_token, list_tokens, revoke_token
from campaign_engine.core.kinds import EventKind, MessageState, OutreachMode
from campaign_engine.store.campaign_log import campaign_log
from campaign_engine.store.models import (
    Alert,
    Campaign,
    Contact,
    Event,
    Exclusion,
    Message,
    Suppression,
)
from tests.conftest import ROOT, SmtpSink
from tests.helpers import campaign_cli
from tests.web import wait_until
from tests.webapp_fixtures import (
    DANA,
    WebApp,
    at,
    launched_fixture,  # noqa: F401  (fixture)
    web_fixture,  # noqa: F401  (fixture)
    web_settings_fixture,  # noqa: F401  (fixture)
)

API = "/api/v1"
HUGE = "99999999999999999999999"


class Clients:
    """One HTTP client per role, each with its bearer token."""

    def __init__(self, web: WebApp, tokens: dict[str, str]) -> None:
        self.web = web
        self.tokens = tokens

    def __call__(self, role: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.web.url + API, headers=headers, timeout=30)

    def call(self, role: str | None, method: str, path: str, **kw: object) -> httpx.Response:
        with self(role) as client:
            return client.request(method, path, **kw)  # type: ignore[arg-type]


@pytest.fixture
def api(web: WebApp) -> Iterator[Clients]:
    now = at(4, 20)
    tokens = {
        "ops": create_token(web.db, "ops-bot", "ops", now).token,
        "integration": create_token(web.db, "crm", "integration", now).token,
        "rep": create_token(web.db, "dana", "rep", now, rep_email=DANA).token,
    }
    yield Clients(web, tokens)


def problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"]
    return body  # type: ignore[no-any-return]


def test_no_token_a_bad_token_or_a_revoked_one_is_a_401(
    api: Clients, caplog: pytest.LogCaptureFixture
) -> None:
    problem(api.call(None, "GET", "/contacts/ada@tiny.example"), 401)
    with httpx.Client(base_url=api.web.url + API) as client:
        bad = client.get("/events", headers={"Authorization": "Bearer ce_not-a-token"})
        assert problem(bad, 401)["detail"] == "unknown or revoked token"
        assert "invalid_token" in bad.headers["www-authenticate"]
        basic = client.get("/events", headers={"Authorization": "Basic b3BzOm9wcw=="})
        problem(basic, 401)
    revoke_token(api.web.db, "crm", at(4, 21))
    problem(api.call("integration", "GET", "/events"), 401)
    assert [t.name for t in list_tokens(api.web.db)] == ["dana", "ops-bot"]
    with caplog.at_level(logging.INFO, logger="campaign_engine.api"):
        assert api.call("ops", "GET", "/events").status_code == 200
        # the line is written once the answer went out
        wait_until(lambda: any("token ops-bot" in r.getMessage() for r in caplog.records))


def test_roles_limit_what_a_token_may_do(api: Clients) -> None:
    # ops: everything; integration: no launch, no export/forget; rep: their own contacts only
    expectations = [
        (("GET", "/campaigns", None), {"ops": 200, "integration": 200, "rep": 403}),
        (("GET", "/exclusions", None), {"ops": 200, "integration": 200, "rep": 403}),
        (("GET", "/suppressions", None), {"ops": 200, "integration": 200, "rep": 403}),
        (("GET", "/contacts/ada@tiny.example", None), {"ops": 200, "integration": 200, "rep": 200}),
        (("GET", "/contacts/eve@bigcorp.example", None), {"ops": 200, "integration": 200, "rep": 404}),
        (("GET", "/contacts/eve@bigcorp.example/export", None), {
            "ops": 200, "integration": 403, "rep": 403,
        }),
        (("POST", "/campaigns", {"sequence": "premium-to-ultimate", "start": "2021-05-04",
                                 "allow_overlap": True}), {
            "ops": 201, "integration": 403, "rep": 403,
        }),
        (("POST", "/contacts", {"contacts": [{"email": "x@tiny.example", "account": "Tiny Co", "employees": 12}]}), {
            "ops": 200, "integration": 200, "rep": 403,
        }),
        (("POST", "/contacts/eve@bigcorp.example/stages", {"stage": "1", "on": "2021-05-01"}), {
            "ops": 200, "integration": 200, "rep": 404,
        }),
        (("POST", "/exclusions", {"target": "@x.example"}), {"ops": 201, "integration": 201, "rep": 403}),
        (("DELETE", "/exclusions/@x.example", None), {"rep": 403, "ops": 200, "integration": 404}),
        (("POST", "/suppressions", {"email": "z@x.example"}), {"rep": 403, "ops": 201, "integration": 409}),
        (("DELETE", "/suppressions/z@x.example", None), {"rep": 403, "integration": 200, "ops": 404}),
        (("PUT", "/contacts/mia@midsize.example/mode", {"mode": "B"}), {"ops": 200, "integration": 200, "rep": 200}),
        (("POST", "/contact-requests", {"email": "mia@midsize.example"}), {"ops": 201, "integration": 201, "rep": 201}),
        (("GET", "/events", None), {"ops": 200, "integration": 200, "rep": 200}),
        (("DELETE", "/contacts/eve@bigcorp.example", None), {"integration": 403, "rep": 403, "ops": 200}),
    ]  # fmt: skip
    for (method, path, body), by_role in expectations:
        for role, status in by_role.items():
            response = api.call(role, method, path, json=body)
            assert response.status_code == status, (role, method, path, response.text)
            if status >= 400:
                problem(response, status)
            if method == "POST" and path == "/campaigns" and status == 201:
                # launching the same name again is a conflict
                problem(api.call(role, method, path, json=body), 409)
                with api.web.db.session() as session:
                    log = campaign_log(session)[response.json()["name"]]
                assert [(e.action, e.actor) for e in log] == [("launched", "api:ops-bot")]


def test_upsert_contacts_row_by_row_like_the_csv_import(api: Clients) -> None:
    rows = [
        {"email": "New@NewCo.example", "first_name": "New", "account": "New Co", "employees": 12,
         "owner_email": "nora.new@gitlab-demo.example", "consent": "customer"},
        {"email": "not-an-address", "account": "Tiny Co", "employees": 12},
        {"email": "inj@tiny.example", "first_name": "Eve\r\nBcc: x@y", "account": "Tiny Co",
         "employees": 12, "title": "Dev\u0007ops"},
        {"email": "ada@tiny.example", "first_name": "Ada", "last_name": "Lovelace",
         "title": "Developer", "account": "Tiny Co", "employees": 12, "owner_email": DANA},
        {"email": "seg@tiny.example", "account": "Tiny Co"},
    ]  # fmt: skip
    response = api.call("integration", "POST", "/contacts", json={"contacts": rows})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (2, 0, 1)
    assert [(r["pointer"], r["field"]) for r in body["rejected"]] == [
        ("#/contacts/1/email", "email"),
        ("#/contacts/4/segment", "segment"),
    ]
    # applied, but worth a look: what the CSV import prints as warnings
    warnings = [(w["pointer"], w["reason"]) for w in body["warnings"]]
    assert [pointer for pointer, _ in warnings] == [
        "#/contacts/2/title",
        "#/contacts/0/owner_email",
    ]
    assert "control characters" in warnings[0][1]
    assert warnings[1][1].startswith("no rep nora.new@gitlab-demo.example yet")
    folded = api.call("ops", "GET", "/contacts/inj@tiny.example").json()
    assert folded["first_name"] == "Eve Bcc: x@y"  # a line break folds to a space, as in a CSV
    detail = api.call("ops", "GET", "/contacts/new@newco.example").json()
    assert detail["rep_email"] is None  # an unknown owner invents no rep, as in a CSV
    assert detail["segment"] == "SMB" and detail["first_name"] == "New"

    # strict: one bad row and nothing is applied (422, with the field path)
    strict = api.call(
        "ops", "POST", "/contacts",
        json={"strict": True, "contacts": [{"email": "s@tiny.example", "account": "Tiny Co",
                                             "employees": 5}, {"email": "bad", "account": "X"}]},
    )  # fmt: skip
    assert problem(strict, 422)["errors"][0]["pointer"] == "#/contacts/1/email"  # type: ignore[index]
    problem(api.call("ops", "GET", "/contacts/s@tiny.example"), 404)


def test_validation_errors_are_problems_with_a_field_path(api: Clients) -> None:
    missing = api.call("ops", "POST", "/contacts", json={"contacts": [{"account": "Tiny Co"}]})
    assert problem(missing, 422)["errors"] == [
        {"pointer": "#/contacts/0/email", "detail": "Field required"}
    ]
    wrong_type = api.call(
        "ops",
        "POST",
        "/contacts",
        json={"contacts": [{"email": "a@b.example", "employees": "many"}]},
    )
    assert problem(wrong_type, 422)["errors"][0]["pointer"] == "#/contacts/0/employees"  # type: ignore[index]
    unknown = api.call("ops", "POST", "/exclusions", json={"target": "a@b.example", "why": "x"})
    assert problem(unknown, 422)["errors"][0]["pointer"] == "#/why"  # type: ignore[index]
    broken = api.call(
        "ops",
        "POST",
        "/contacts",
        content=b'{"contacts": [',
        headers={"content-type": "application/json"},
    )
    problem(broken, 400)
    latin1 = api.call(
        "ops",
        "POST",
        "/contacts",
        content='{"contacts": [{"email": "é@x"}]}'.encode("latin-1"),
        headers={"content-type": "application/json"},
    )
    problem(latin1, 400)
    huge = api.call(
        "ops",
        "POST",
        "/contacts",
        content=b"x" * (MAX_BODY_BYTES + 1),
        headers={"content-type": "application/json"},
    )
    problem(huge, 413)
    limit = api.call("ops", "GET", "/events", params={"limit": 100000})
    assert problem(limit, 400)["errors"][0]["pointer"] == "#/query/limit"  # type: ignore[index]
    stage = api.call("ops", "POST", "/contacts/ada@tiny.example/stages", json={"stage": "won-ish"})
    assert problem(stage, 422)["errors"][0]["pointer"] == "#/stage"  # type: ignore[index]
    problem(api.call("ops", "GET", "/nowhere"), 404)
    problem(
        api.call(
            "ops",
            "POST",
            "/campaigns",
            json={"sequence": "../../etc/passwd", "start": "2021-05-04"},
        ),
        422,
    )
    problem(api.call("ops", "POST", "/campaigns", json={"sequence": "no-such", "start": "2021-05-04"}), 422)  # fmt: skip


def test_numbers_out_of_range_and_unknown_parameters_are_400_never_500(api: Clients) -> None:
    for path, params, where in (
        ("/events", {"after": HUGE}, "#/query/after"),
        ("/events", {"after": str(2**31)}, "#/query/after"),
        ("/events", {"after": "-1"}, "#/query/after"),
        ("/events", {"limit": HUGE}, "#/query/limit"),
        ("/events", {"limt": "5"}, "#/query/limt"),  # misspelt: never silently ignored
        ("/exclusions", {"campagin": "P2U"}, "#/query/campagin"),
        ("/events", {"limit": ["5", "500"]}, "#/query/limit"),
        ("/contacts/" + "a" * 321 + "@x.example", {}, "#/path/email"),
    ):
        response = api.call("ops", "GET", path, params=params)
        assert problem(response, 400)["errors"][0]["pointer"] == where, (path, params)  # type: ignore[index]
    assert api.call("ops", "GET", "/events", params={"after": str(2**31 - 1)}).status_code == 200
    huge = {"email": "big@tiny.example", "account": "Tiny Co", "employees": int(HUGE)}
    refused = api.call("ops", "POST", "/contacts", json={"contacts": [huge]})
    assert problem(refused, 422)["errors"][0]["pointer"] == "#/contacts/0/employees"  # type: ignore[index]


def test_request_bodies_refuse_unknown_fields_and_apply_nothing(api: Clients) -> None:
    mode = api.call("ops", "PUT", "/contacts/ada@tiny.example/mode", json={"mode": "B", "x": 1})
    assert problem(mode, 422)["errors"] == [
        {"pointer": "#/x", "detail": "Extra inputs are not permitted"}
    ]
    assert api.call("ops", "GET", "/contacts/ada@tiny.example").json()["outreach_mode"] == "C"
    stage = {"stage": "1", "on": "2021-05-03", "by": "me"}
    assert problem(api.call("ops", "POST", "/contacts/ada@tiny.example/stages", json=stage), 422)
    typo = {"contacts": [{"email": "t@tiny.example", "account": "Tiny Co", "employes": 12}]}
    refused = api.call("ops", "POST", "/contacts", json=typo)
    assert problem(refused, 422)["errors"][0]["pointer"] == "#/contacts/0/employes"  # type: ignore[index]
    problem(api.call("ops", "GET", "/contacts/t@tiny.example"), 404)
    document = httpx.get(api.web.url + API + "/openapi.json").json()
    bodies = [
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for item in document["paths"].values() for op in item.values() if "requestBody" in op
    ]  # fmt: skip
    schemas = document["components"]["schemas"]
    assert set(bodies) == {"ContactBatch", "ModeIn", "StageIn", "ExclusionIn", "SuppressionIn",
                           "LaunchIn", "ContactRequestIn", "RepIn"}  # fmt: skip
    for name in [*bodies, "ContactIn"]:
        assert schemas[name]["additionalProperties"] is False, name


def test_api_contacts_take_every_column_the_guide_lists(api: Clients) -> None:
    guide = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
    table = guide[guide.index("| column | required | meaning |") :].split("\n\n", 1)[0]
    columns = [
        name
        for line in table.splitlines()[2:]
        for name in re.findall(r"`(\w+)`", line.split("|")[1])
    ]
    assert {"email", "timezone", "country", "region"} <= set(columns), columns
    values = {"email": "kasia@slask.example", "first_name": "Kasia", "last_name": "Nowak",
              "title": "CTO", "account": "Śląsk SA", "employees": 40, "segment": "SMB",
              "owner_email": DANA, "outreach_mode": "C", "consent": "customer",
              "timezone": "Europe/Warsaw", "country": "PL", "region": ""}  # fmt: skip
    contact = {name: values[name] for name in columns}
    response = api.call("ops", "POST", "/contacts", json={"contacts": [contact]})
    assert response.status_code == 200 and response.json()["created"] == 1, response.text
    detail = api.call("ops", "GET", "/contacts/kasia@slask.example").json()
    assert (detail["timezone"], detail["account"]) == ("Europe/Warsaw", "Śląsk SA")
    derived = {"email": "al@texas.example", "account": "Lone Star", "employees": 5,
               "country": "United States", "region": "TX"}  # fmt: skip
    assert api.call("ops", "POST", "/contacts", json={"contacts": [derived]}).status_code == 200
    assert (
        api.call("ops", "GET", "/contacts/al@texas.example").json()["timezone"] == "America/Chicago"
    )
    unknown = {"email": "x@y.example", "account": "Y", "employees": 5, "timezone": "Mars/Olympus"}
    refused = api.call("ops", "POST", "/contacts", json={"contacts": [unknown]})
    assert problem(refused, 422)["errors"][0]["pointer"] == "#/contacts/0/timezone"  # type: ignore[index]


def test_contact_history_mode_stage_export_and_forget(api: Clients) -> None:
    mode = api.call("rep", "PUT", "/contacts/Ada@tiny.example/mode", json={"mode": "B"})
    assert mode.status_code == 200, mode.text
    assert (mode.json()["old_mode"], mode.json()["new_mode"]) == ("C", "B")
    problem(api.call("rep", "PUT", "/contacts/eve@bigcorp.example/mode", json={"mode": "A"}), 404)
    to_c = api.call("rep", "PUT", "/contacts/mia@midsize.example/mode", json={"mode": "C"})
    assert (to_c.json()["handed_to_automation"], to_c.json()["drafts_cancelled"]) == (1, 3)
    problem(api.call("ops", "PUT", "/contacts/ada@tiny.example/mode", json={"mode": "Z"}), 422)
    stage = api.call(
        "rep",
        "POST",
        "/contacts/ada@tiny.example/stages",
        json={"stage": "Discovery", "on": "2021-05-03"},
    )
    assert stage.json() == {
        "email": "ada@tiny.example",
        "stage": 1,
        "changed_on": "2021-05-03",
        "created": True,
    }
    detail = api.call("rep", "GET", "/contacts/ada@tiny.example").json()
    assert detail["outreach_mode"] == OutreachMode.SALES_ONLY
    assert [e["campaign"] for e in detail["enrollments"]] == ["P2U"]
    assert detail["stages"] == [
        {"stage": 1, "label": "1 - Discovery", "changed_on": "2021-05-03", "source": "api:dana"}
    ]
    export = api.call("ops", "GET", "/contacts/ada@tiny.example/export")
    assert export.json()["contact"]["first_name"] == "Ada"
    forget = api.call("ops", "DELETE", "/contacts/ada@tiny.example")
    assert forget.json()["contact_erased"] is True
    problem(api.call("ops", "GET", "/contacts/ada@tiny.example"), 404)


def test_exclusions_and_suppressions(api: Clients) -> None:
    added = api.call(
        "integration",
        "POST",
        "/exclusions",
        json={"target": "@tiny.example", "reason": "renewal", "campaign": "P2U"},
    )
    assert added.status_code == 201, added.text
    assert added.json() == {"added": True, "contacts_excluded": 2, "already_sent": 0}
    again = api.call(
        "integration", "POST", "/exclusions", json={"target": "@tiny.example", "campaign": "P2U"}
    )
    assert again.json()["added"] is False
    problem(api.call("ops", "POST", "/exclusions", json={"target": "not a domain"}), 422)
    problem(
        api.call("ops", "POST", "/exclusions", json={"target": "a@b.example", "campaign": "Nope"}),
        404,
    )
    listed = api.call("ops", "GET", "/exclusions", params={"campaign": "P2U"}).json()
    assert [(x["target"], x["scope"], x["created_by"]) for x in listed] == [
        ("@tiny.example", "P2U", "crm")
    ]
    removed = api.call(
        "ops", "DELETE", "/exclusions/@tiny.example", params={"campaign": "P2U", "reason": "signed"}
    )
    assert removed.json() == {"removed": 1}
    history = api.call("ops", "GET", "/exclusions", params={"include_removed": "true"}).json()
    assert history[0]["removed_by"] == "ops-bot" and history[0]["removal_reason"] == "signed"
    problem(api.call("ops", "DELETE", "/exclusions/@tiny.example", params={"campaign": "P2U"}), 404)

    sup = api.call(
        "integration",
        "POST",
        "/suppressions",
        json={"email": "Bo@Tiny.example", "reason": "complaint"},
    )
    assert sup.status_code == 201 and sup.json()["email"] == "bo@tiny.example"
    problem(api.call("ops", "POST", "/suppressions", json={"email": "bo@tiny.example"}), 409)
    problem(
        api.call(
            "ops", "POST", "/suppressions", json={"email": "bo@tiny.example", "reason": "bored"}
        ),
        422,
    )
    assert [s["email"] for s in api.call("ops", "GET", "/suppressions").json()] == [
        "bo@tiny.example"
    ]
    assert api.call("ops", "DELETE", "/suppressions/bo@tiny.example").json() == {"removed": 1}
    problem(api.call("ops", "DELETE", "/suppressions/bo@tiny.example"), 404)
    with api.web.db.session() as session:
        assert session.exec(select(Suppression)).all() == []
        assert len(session.exec(select(Exclusion)).all()) == 1


def test_campaigns_list_and_contact_request_like_the_contact_page(
    api: Clients, smtp_sink: SmtpSink
) -> None:
    (campaign,) = api.call("integration", "GET", "/campaigns").json()
    assert campaign["name"] == "P2U" and [s["step"] for s in campaign["steps"]] == [1, 2, 3]
    problem(
        api.call("rep", "POST", "/contact-requests", json={"email": "eve@bigcorp.example"}), 404
    )
    problem(
        api.call(
            "ops",
            "POST",
            "/contact-requests",
            json={"email": "ada@tiny.example", "message": "x" * 2001},
        ),
        422,
    )
    made = api.call(
        "rep",
        "POST",
        "/contact-requests",
        json={"email": "ada@tiny.example", "message": "Call me", "preferred_time": "Tue am"},
    )
    assert made.status_code == 201, made.text
    assert made.json()["stopped_enrollments"] == 1 and made.json()["rep_email"] == DANA
    wait_until(lambda: smtp_sink.to(DANA), what="the Contact request alert")
    (alert,) = smtp_sink.to(DANA)
    assert alert["Subject"].startswith("Contact request: Ada Lovelace")

    def alert_state() -> str:  # recorded just after the relay's answer
        with api.web.db.session() as session:
            return session.exec(select(Alert)).one().state

    wait_until(lambda: alert_state() == "sent", what="the alert recorded as sent")
    with api.web.db.session() as session:
        contact = session.exec(select(Contact).where(Contact.email == "ada@tiny.example")).one()
        assert contact.outreach_mode == OutreachMode.SALES_ONLY
        (event,) = session.exec(select(Event).where(Event.kind == EventKind.CONTACT_REQUEST)).all()
        assert event.note is not None and "source: api:dana" in event.note
        assert all(
            m.state != MessageState.QUEUED
            for m in session.exec(select(Message).where(Message.contact_id == contact.id))
        )


def test_openapi_document_validates_and_matches_the_routes(api: Clients) -> None:
    response = httpx.get(api.web.url + API + "/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert documented == {
        ("POST", "/contacts"), ("GET", "/contacts/{email}"), ("DELETE", "/contacts/{email}"),
        ("PUT", "/contacts/{email}/mode"), ("POST", "/contacts/{email}/stages"),
        ("GET", "/contacts/{email}/export"), ("POST", "/exclusions"), ("GET", "/exclusions"),
        ("DELETE", "/exclusions/{target}"), ("POST", "/suppressions"), ("GET", "/suppressions"),
        ("DELETE", "/suppressions/{email}"), ("GET", "/campaigns"), ("POST", "/campaigns"),
        ("POST", "/campaigns/{name}/pause"), ("POST", "/campaigns/{name}/resume"),
        ("POST", "/contact-requests"), ("GET", "/events"), ("PUT", "/accounts/{name}/rep"),
    }  # fmt: skip
    assert document["servers"] == [{"url": API}]
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    # every documented route answers (401 without a token), none is a 404 or 405
    with httpx.Client(base_url=api.web.url + API) as client:
        for method, path in documented:
            concrete = path.replace("{email}", "ada@tiny.example").replace("{target}", "@x.example")
            assert client.request(method, concrete).status_code == 401, (method, path)


def test_events_cursor_returns_every_event_once_while_new_ones_arrive(api: Clients) -> None:
    db = api.web.db
    with db.session() as session:
        ids = session.exec(select(Contact.id)).all()
    written: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set() and n < 300:
            with db.session() as session:
                for _ in range(3):
                    event = Event(
                        kind=EventKind.OPEN,
                        contact_id=ids[n % len(ids)],
                        occurred_at=datetime.now(UTC),
                    )
                    session.add(event)
                    session.flush()
                    assert event.id is not None
                    written.append(event.id)
                    n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    seen: list[int] = []
    after = 0
    with api("integration") as client:
        while True:
            page = client.get("/events", params={"after": after, "limit": 7}).json()
            seen.extend(e["id"] for e in page["events"])
            after = page["next_after"]
            if not thread.is_alive() and not page["has_more"] and after >= max(written, default=0):
                break
    thread.join()
    stop.set()
    assert sorted(seen) == seen and len(seen) == len(set(seen))
    assert set(seen) == set(written)
    # a rep's feed holds only the events of their own contacts
    with api("rep") as client:
        mine = client.get("/events", params={"limit": 1000}).json()["events"]
    assert mine and {e["contact_email"].split("@")[1] for e in mine} <= {
        "tiny.example",
        "midsize.example",
    }


def test_tokens_cli_shows_the_token_once_and_stores_a_hash(api: Clients) -> None:
    settings = api.web.settings
    made = campaign_cli(settings, "tokens", "create", "warehouse", "--role", "integration")
    assert made.returncode == 0, made.stderr
    token = made.stdout.split()[-1]
    assert token.startswith("ce_")
    with httpx.Client(
        base_url=api.web.url + API, headers={"Authorization": f"Bearer {token}"}
    ) as c:
        assert c.get("/events").status_code == 200
    listed = campaign_cli(settings, "tokens", "list")
    assert "warehouse" in listed.stdout and token not in listed.stdout
    assert campaign_cli(settings, "tokens", "create", "warehouse", "--role", "ops").returncode == 1
    assert (
        campaign_cli(settings, "tokens", "create", "r", "--role", "rep").returncode == 1
    )  # needs --rep
    assert campaign_cli(settings, "tokens", "revoke", "warehouse").returncode == 0
    with httpx.Client(
        base_url=api.web.url + API, headers={"Authorization": f"Bearer {token}"}
    ) as c:
        assert c.get("/events").status_code == 401


def test_an_event_committed_late_is_not_skipped_on_postgres(api: Clients) -> None:
    db = api.web.db
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: ids commit in order")
    with api("integration") as client:
        start = client.get("/events", params={"limit": 1000}).json()["next_after"]
        slow = Session(db.engine)  # a writer that takes its time: id N, not committed yet
        slow.add(Event(kind=EventKind.OPEN, occurred_at=datetime.now(UTC)))
        slow.flush()
        with db.session() as session:  # id N+1, committed at once
            session.add(Event(kind=EventKind.CLICK, occurred_at=datetime.now(UTC)))
        early = client.get("/events", params={"after": start}).json()
        assert early["events"] == [] and early["next_after"] == start  # N+1 waits for N
        slow.commit()
        slow.close()
        late = client.get("/events", params={"after": early["next_after"]}).json()
    assert [e["kind"] for e in late["events"]] == ["open", "click"]


def test_ops_pause_and_resume_a_campaign_and_a_dry_run_writes_nothing(api: Clients) -> None:
    problem(api.call("rep", "POST", "/campaigns/P2U/pause"), 403)
    problem(api.call("integration", "POST", "/campaigns/P2U/pause"), 403)
    problem(api.call("ops", "POST", "/campaigns/nope/pause"), 404)
    paused = api.call("ops", "POST", "/campaigns/P2U/pause")
    assert paused.status_code == 200 and paused.json() == {
        "name": "P2U",
        "paused": True,
        "changed": True,
    }
    assert api.call("ops", "POST", "/campaigns/P2U/pause").json()["changed"] is False
    with api.web.db.session() as session:
        assert session.exec(select(Campaign.paused).where(Campaign.name == "P2U")).one()
    resumed = api.call("ops", "POST", "/campaigns/P2U/resume").json()
    assert resumed == {"name": "P2U", "paused": False, "changed": True}

    body = {"sequence": "premium-to-ultimate", "start": "2031-01-07", "name": "Dry",
            "dry_run": True, "allow_overlap": True}  # fmt: skip
    dry = api.call("ops", "POST", "/campaigns", json=body)
    assert dry.status_code == 201, dry.text
    plan = dry.json()
    assert plan["campaign_id"] is None and plan["sends"], plan
    assert {s["step"] for s in plan["sends"]} == {1, 2, 3}
    names = [c["name"] for c in api.call("ops", "GET", "/campaigns").json()]
    assert names == ["P2U"], "a dry run creates no campaign"
