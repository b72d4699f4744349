"""The reminders due, found in SQL: day 7 and not before, only the latest email of a thread,
what ends the reminders, oldest first, one page with the number due (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlmodel import Session, select

from campaign_engine.core.kinds import DraftStatus, MessageState, OutreachMode
from campaign_engine.reps.reminder_query import due_reminder_page, reminder_lines
from campaign_engine.sending.sequences import load_sequence
from campaign_engine.store.db import Database
from campaign_engine.store.models import (
    Account,
    Campaign,
    Contact,
    Draft,
    Enrollment,
    Event,
    Message,
    Rep,
    Suppression,
    ThreadOutcome,
)

_Row = TypeVar("_Row")
ROOT = Path(__file__).resolve().parents[2]
SENT = datetime(2021, 5, 4, 10, tzinfo=UTC)
DANA = "dana@example.com"


class Threads:
    """A campaign of 3 emails, Dana's account, and contacts whose emails she sent."""

    def __init__(self, session: Session) -> None:
        self.session = session
        sequence = load_sequence(ROOT / "sequences", "premium-to-ultimate")
        assert len(sequence.steps) == 3
        rep = self._add(Rep(email=DANA, name="Dana"))
        self.account = self._add(Account(name="Bigcorp", segment="ENT", rep_id=rep.id))
        self.campaign = self._add(
            Campaign(name="P2U", sequence_key=sequence.key, sequence_json=sequence.to_json(),
                     start_date=date(2021, 5, 1))
        )  # fmt: skip

    def _add(self, row: _Row) -> _Row:
        self.session.add(row)
        self.session.flush()
        return row

    def contact(self, name: str, mode: str = OutreachMode.SALES_ONLY) -> Contact:
        assert self.account.id is not None
        return self._add(
            Contact(email=f"{name}@bigcorp.example", account_id=self.account.id, outreach_mode=mode)
        )

    def enrollment(self, contact: Contact) -> int:
        found = self.session.exec(
            select(Enrollment.id).where(Enrollment.contact_id == contact.id)
        ).first()
        if found is None:
            assert self.campaign.id is not None and contact.id is not None
            found = self._add(
                Enrollment(campaign_id=self.campaign.id, contact_id=contact.id, channel="rep")
            ).id
        assert found is not None
        return found

    def sent(self, contact: Contact, step: int, at: datetime = SENT, by_rep: bool = True) -> None:
        """Email `step` went to the contact at `at`; the rep's sends leave a sent draft."""
        assert self.campaign.id is not None and contact.id is not None
        enrollment_id = self.enrollment(contact)
        message = self._add(
            Message(enrollment_id=enrollment_id, campaign_id=self.campaign.id,
                    contact_id=contact.id, step=step, origin="rep" if by_rep else "automated",
                    state=MessageState.SENT, sent_at=at)
        )  # fmt: skip
        self._add(
            Draft(campaign_id=self.campaign.id, enrollment_id=enrollment_id,
                  contact_id=contact.id, step=step, status=DraftStatus.SENT, sent_at=at,
                  message_id=message.id)
        )  # fmt: skip

    def open_draft(self, contact: Contact, step: int) -> int:
        assert self.campaign.id is not None and contact.id is not None
        draft = self._add(
            Draft(campaign_id=self.campaign.id, enrollment_id=self.enrollment(contact),
                  contact_id=contact.id, step=step)
        )  # fmt: skip
        assert draft.id is not None
        return draft.id

    def due(self, now: datetime, days: int = 7) -> list[tuple[str, int, int]]:
        """(contact, email sent, email next) of each reminder due, in the order given."""
        return [
            (line.reminder.contact_email.split("@")[0], line.reminder.sent_step,
             line.reminder.next_step)
            for line in reminder_lines(self.session, now, days)
        ]  # fmt: skip


@pytest.fixture
def threads(db: Database) -> Iterator[Threads]:
    with db.session() as session:
        yield Threads(session)


def test_a_reminder_is_due_exactly_reminder_days_after_the_send(threads: Threads) -> None:
    ann = threads.contact("ann")
    threads.sent(ann, 1)
    draft = threads.open_draft(ann, 2)
    assert threads.due(SENT + timedelta(days=7, seconds=-1)) == []
    (line,) = reminder_lines(threads.session, SENT + timedelta(days=7), 7, DANA)
    assert (line.reminder.sent_step, line.reminder.next_step) == (1, 2)
    assert (line.reminder.due_at, line.draft_id, line.account) == (
        SENT + timedelta(days=7),
        draft,
        "Bigcorp",
    )
    assert threads.due(SENT + timedelta(days=9), days=10) == []


def test_only_the_latest_email_counts_and_the_next_one_not_sent_yet_is_suggested(
    threads: Threads,
) -> None:
    later = SENT + timedelta(days=8)
    ann, bob, cy = threads.contact("ann"), threads.contact("bob"), threads.contact("cy")
    threads.sent(ann, 1)
    threads.sent(ann, 2, later)
    # Bob: the rep started with email 2, then went back to email 1: email 3 is next.
    threads.sent(bob, 2)
    threads.sent(bob, 1, later)
    threads.sent(cy, 3)  # no email 4
    assert threads.due(later + timedelta(days=6)) == []
    assert threads.due(later + timedelta(days=7)) == [("ann", 2, 3), ("bob", 1, 3)]


def test_an_automated_last_email_and_mode_a_give_no_rep_reminder(threads: Threads) -> None:
    ann, bob = threads.contact("ann"), threads.contact("bob", OutreachMode.DO_NOTHING)
    threads.sent(ann, 1)
    threads.sent(ann, 2, SENT + timedelta(hours=1), by_rep=False)
    threads.sent(bob, 1)
    assert threads.due(SENT + timedelta(days=8)) == []


@pytest.mark.parametrize(
    ("kind", "offset", "reminded"),
    [
        ("contact_request", timedelta(days=1), False),
        ("contact_request", timedelta(days=-1), True),  # before this email: the rep followed up
        ("meeting", timedelta(days=2), False),
        ("opportunity", timedelta(days=2), False),
        ("unsubscribe", timedelta(days=-30), False),  # whenever it happened
        ("bounce", timedelta(days=1), False),
        ("open", timedelta(days=1), True),
    ],
)
def test_what_ends_the_reminders(
    threads: Threads, kind: str, offset: timedelta, reminded: bool
) -> None:
    ann, bob = threads.contact("ann"), threads.contact("bob")
    threads.sent(ann, 1)
    assert ann.id is not None
    if kind in ("meeting", "opportunity"):
        threads.session.add(ThreadOutcome(contact_id=ann.id, reason=kind, created_at=SENT + offset))
    else:
        threads.session.add(Event(kind=kind, contact_id=ann.id, occurred_at=SENT + offset))
    threads.session.add(Event(kind="unsubscribe", contact_id=bob.id, occurred_at=SENT))
    threads.sent(bob, 1)
    assert threads.due(SENT + timedelta(days=8)) == ([("ann", 1, 2)] if reminded else [])


def test_an_unsubscribed_or_suppressed_contact_gets_no_reminder(threads: Threads) -> None:
    ann, bob = threads.contact("ann"), threads.contact("bob")
    threads.sent(ann, 1)
    threads.sent(bob, 1)
    ann.unsubscribed_at = SENT - timedelta(days=3)
    threads.session.add_all([ann, Suppression(email=bob.email, reason="bounce")])
    threads.session.flush()
    assert threads.due(SENT + timedelta(days=8)) == []


def test_reminders_are_per_contact_oldest_first_one_page_with_the_number_due(
    threads: Threads,
) -> None:
    for hours, name in ((2, "ann"), (0, "bob"), (1, "cy")):
        threads.sent(threads.contact(name), 1, SENT + timedelta(hours=hours))
    now = SENT + timedelta(days=8)
    assert threads.due(now) == [("bob", 1, 2), ("cy", 1, 2), ("ann", 1, 2)]
    page, due = due_reminder_page(threads.session, now, 7, DANA, limit=2)
    assert ([line.reminder.contact_email for line in page], due) == (
        ["bob@bigcorp.example", "cy@bigcorp.example"],
        3,
    )


def test_the_count_of_reminders_due_stops_where_asked_and_the_page_stays_the_oldest(
    threads: Threads,
) -> None:
    for hours, name in ((3, "ann"), (0, "bob"), (1, "cy"), (2, "di")):
        threads.sent(threads.contact(name), 1, SENT + timedelta(hours=hours))
    now = SENT + timedelta(days=8)
    for at_most, due in ((2, 2), (3, 3), (10, 4)):
        page, counted = due_reminder_page(threads.session, now, 7, DANA, limit=2, at_most=at_most)
        assert [line.reminder.contact_email for line in page] == [
            "bob@bigcorp.example",
            "cy@bigcorp.example",
        ]
        assert counted == due
