"""A small SMB campaign pointed at a FaultRelay: what the delivery-fault tests and bench share."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import col, select

from campaign_engine.audience.imports import import_contacts
from campaign_engine.core.config import Settings, load_settings
from campaign_engine.engine.launch import launch
from campaign_engine.reps.alerts import queue_alert
from campaign_engine.store.db import Database
from campaign_engine.store.models import Contact, Message, Suppression

START = date(2021, 4, 27)  # a Tuesday: email 1 of the play
DAY1 = datetime(2021, 4, 27, 9, tzinfo=UTC)


def point_at(settings: Settings, port: int, **smtp: object) -> Settings:
    """The same config with [smtp] aimed at `port` (and any [smtp] key replaced or added)."""
    text = re.sub(r"(?m)^port = \d+$", f"port = {port}", settings.config_path.read_text())
    head, _, table = text.partition("[smtp]")
    for key, value in smtp.items():
        rendered = f'"{value}"' if isinstance(value, str) else str(value).lower()
        table = re.sub(rf"(?m)^{key} = .*\n", "", table) + f"{key} = {rendered}\n"
    settings.config_path.write_text(f"{head}[smtp]{table}")
    return load_settings(settings.config_path, environ={})


def with_relays(settings: Settings, **relays: dict[str, object]) -> Settings:
    """The same config with one [[smtp.relays]] per keyword (its name), each with its keys."""
    text = settings.config_path.read_text().partition("\n[[smtp.relays]]")[0]
    for name, keys in relays.items():
        text += f'\n[[smtp.relays]]\nname = "{name}"\n'
        for key, value in keys.items():
            rendered = json.dumps(value) if not isinstance(value, bool) else str(value).lower()
            text += f"{key} = {rendered}\n"
    settings.config_path.write_text(text)
    return load_settings(settings.config_path, environ={})


def launch_smb(db: Database, settings: Settings, emails: list[str], tmp_path: Path) -> None:
    """Import `emails` as SMB mode-C contacts and launch the play for 2021-04-27."""
    path = tmp_path / "contacts.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "account", "employees"])
        writer.writerows([email, f"N{i}", f"Acct {i}", "10"] for i, email in enumerate(emails))
    import_contacts(db, path, datetime(2021, 4, 20, tzinfo=UTC))
    launch(db, settings, "premium-to-ultimate", START, datetime(2021, 4, 20, tzinfo=UTC))


def queue_rep_alert(db: Database, recipient: str = "rep@gitlab-demo.example") -> None:
    """Mail for a rep (a contact request alert), due at DAY1: it goes out ahead of campaign
    batches."""
    with db.session() as session:
        queue_alert(
            session,
            kind="contact_request",
            rep_id=None,
            recipient=recipient,
            contact_id=None,
            subject="Contact request",
            text="t",
            html="<p>t</p>",
            reply_to="",
            now=DAY1,
        )


def states(db: Database) -> Counter[str]:
    with db.session() as session:
        return Counter(session.exec(select(Message.state)).all())


def state_of(db: Database, email: str) -> Message:
    with db.session() as session:
        return session.exec(
            select(Message)
            .join(Contact, col(Contact.id) == Message.contact_id)
            .where(col(Contact.email) == email)
            .order_by(col(Message.id))
        ).all()[-1]


def suppressed(db: Database) -> set[str]:
    with db.session() as session:
        return set(session.exec(select(Suppression.email)).all())
