"""Every list command scales to a real list: `--limit` (50 by default, then "… N more"),
`--format table|csv|json`; `import contacts` prints a summary and writes every row's outcome to
`--out`. Through the real `campaign` command."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from campaign_engine.api.tokens import create_token
from campaign_engine.audience.suppression import add_suppression
from campaign_engine.core.config import Settings
from campaign_engine.engine.webhooks import add_webhook, queue_test
from campaign_engine.store.db import Database
from campaign_engine.web.users import add_user
from tests.helpers import campaign_cli, write_csv

NOW = datetime(2021, 4, 20, 12, tzinfo=UTC)
LONG = "a.very.long.mailbox-name.that-must-stay-whole@subsidiary.example-corporation.example"
MORE = "(--limit 0 lists them all, --format csv for a file)"


def ok(settings: Settings, *args: str) -> str:
    result = campaign_cli(settings, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_suppress_list_stops_at_50_and_says_how_many_more(db: Database, settings: Settings) -> None:
    with db.session() as session:
        for n in range(59):
            add_suppression(session, f"gone{n:02d}@bounced.example", "bounce", "cli", NOW)
        add_suppression(session, LONG, "complaint", "fbl", NOW)
    table = ok(settings, "suppress", "list")
    assert "Suppressed addresses (50 of 60)" in table
    assert f"… 10 more {MORE}" in table
    assert "gone49@bounced.example" in table and "gone50@bounced.example" not in table
    rows = list(csv.reader(io.StringIO(ok(settings, "suppress", "list", "--limit", "0",
                                          "--format", "csv"))))  # fmt: skip
    assert rows[0] == ["email", "reason", "since", "source"] and len(rows) == 61
    assert rows[-1] == [LONG, "complaint", "2021-04-20T12:00", "fbl"]
    result = campaign_cli(settings, "suppress", "list", "--limit", "2", "--format", "json")
    assert [r["email"] for r in json.loads(result.stdout)] == [
        "gone00@bounced.example",
        "gone01@bounced.example",
    ]
    assert "… 58 more left out (--limit 0 lists them all)" in result.stderr
    complaint = ok(settings, "suppress", "list", "--reason", "complaint")
    assert "Suppressed addresses (1)" in complaint and LONG in complaint and "more" not in complaint


def test_users_tokens_and_webhook_log_take_limit_and_format(
    db: Database, settings: Settings
) -> None:
    for email in ("olga@gitlab-demo.example", "otto@gitlab-demo.example", LONG):
        add_user(db, email, "ops", "a long enough password 1", NOW)
    users = ok(settings, "users", "list", "--limit", "2")
    assert "Web-app users (2 of 3)" in users and f"… 1 more {MORE}" in users
    rows = list(csv.reader(io.StringIO(ok(settings, "users", "list", "--format", "csv"))))
    assert rows[0] == ["email", "role", "created", "status"]
    assert [LONG, "ops", "2021-04-20T12:00", "active"] in rows
    for name in ("crm", "warehouse"):
        create_token(db, name, "integration", NOW)
    tokens = json.loads(ok(settings, "tokens", "list", "--format", "json", "--limit", "1"))
    assert tokens == [
        {"name": "crm", "role": "integration", "rep_email": None,
         "created_at": "2021-04-20T12:00:00+00:00", "revoked_at": None}
    ]  # fmt: skip
    hook = add_webhook(db, "https://crm.example/hooks", "click,reply", NOW)
    assert hook.id is not None
    for _ in range(3):
        queue_test(db, hook.id, NOW)
    log = ok(settings, "webhooks", "log", "--limit", "2")
    assert "Webhook deliveries (2 of 3)" in log and f"… 1 more {MORE}" in log
    rows = list(csv.reader(io.StringIO(ok(settings, "webhooks", "log", "--format", "csv"))))
    assert len(rows) == 4 and rows[0][:4] == ["id", "webhook", "event", "state"]
    assert [r[2] for r in rows[1:]] == ["test"] * 3


def test_import_contacts_prints_a_summary_and_writes_every_row_to_out(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    first = write_csv(tmp_path / "first.csv", [
        ["ada@tiny.example", "Ada", "Lovelace", "Developer", "Tiny Co", "12", "", "", "C"],
        ["bob@tiny.example", "Bob", "Builder", "Developer", "Tiny Co", "12", "", "", "C"],
    ])  # fmt: skip
    ok(settings, "import", "contacts", str(first))
    second = write_csv(tmp_path / "second.csv", [
        ["ada@tiny.example", "Ada", "Lovelace", "CTO", "Tiny Co", "12", "", "", "C"],
        ["bob@tiny.example", "Bob", "Builder", "Developer", "Tiny Co", "12", "", "", "C"],
        ["cy@tiny.example", "Cy", "New", "Engineer", "Tiny Co", "12", "", "", "C"],
        ["not-an-address", "No", "Body", "Engineer", "Tiny Co", "12", "", "", "C"],
    ])  # fmt: skip
    out = tmp_path / "rows.csv"
    result = campaign_cli(settings, "import", "contacts", str(second), "--out", str(out))
    assert result.returncode == 1, "a rejected row"
    assert (
        "second.csv: 4 row(s): 1 contacts created, 1 updated, 1 unchanged, 1 rejected,"
        " 0 warning(s)" in " ".join(result.stdout.split())
    )
    assert f"details of every row written to {out}" in " ".join(result.stdout.split())
    assert "second.csv:5: email" in result.stderr
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0] == ["outcome", "email", "file:line", "detail"]
    assert ["updated", "ada@tiny.example", "", "title: 'Developer' -> 'CTO'"] in rows
    assert ["created", "cy@tiny.example", "", ""] in rows
    (rejected,) = [r for r in rows if r[0] == "rejected"]
    assert rejected[2].endswith("/second.csv:5") and rejected[3].startswith("email:")
