"""The console's contact search: every word in the email, a name or the account, as a
substring, whatever the case (SQLite and PostgreSQL, where the trigram indexes serve it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from campaign_engine.reporting.contact_history import search_contacts
from campaign_engine.store.db import Database
from campaign_engine.store.models import Account, Contact, Rep


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with db.session() as session:
        rep = Rep(email="dana@example.com", name="Dana")
        session.add(rep)
        session.flush()
        for name, people in {
            "Acme Rockets": [("ada@acme.example", "Ada", "Lovelace")],
            "Initech 777": [("bob@initech.example", "Bob", "Porter"),
                            ("c4242@initech.example", "Carl", "Rocket")],
            "Umbrella": [("dan_o@umbrella.example", "Dan", "O'Hara")],
        }.items():  # fmt: skip
            account = Account(name=name, segment="ENT", rep_id=rep.id)
            session.add(account)
            session.flush()
            assert account.id is not None
            for email, first, last in people:
                session.add(Contact(email=email, first_name=first, last_name=last,
                                    account_id=account.id))  # fmt: skip
        session.flush()
        yield session


def found(session: Session, text: str, rep: str | None = None) -> list[str]:
    rows, total = search_contacts(session, text, rep, 0, 50)
    assert total == len(rows)
    return [row.email for row in rows]


def test_a_word_of_the_account_name_finds_all_its_contacts(session: Session) -> None:
    assert found(session, "NITECH 77") == ["bob@initech.example", "c4242@initech.example"]
    assert found(session, "itech") == ["bob@initech.example", "c4242@initech.example"]


def test_each_word_may_be_in_another_column_or_table(session: Session) -> None:
    assert found(session, "rocket") == ["ada@acme.example", "c4242@initech.example"]
    assert found(session, "rocket 777") == ["c4242@initech.example"]
    assert found(session, "rocket lovelace") == ["ada@acme.example"]
    assert found(session, "rocket lovelace porter") == []


def test_email_and_name_substrings_and_the_rep_filter(session: Session) -> None:
    assert found(session, "c4242@") == ["c4242@initech.example"]
    assert found(session, "@umbrella") == ["dan_o@umbrella.example"]
    assert found(session, "ovela") == ["ada@acme.example"]
    assert found(session, "ovela", "dana@example.com") == ["ada@acme.example"]
    assert len(found(session, "")) == 4
