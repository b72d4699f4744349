"""due_reminders: day 7 and not before, and what ends the reminders (fixed datetimes, no DB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campaign_engine.core.config import load_settings
from campaign_engine.core.errors import ConfigError
from campaign_engine.reps.reminders import ContactEvent, SentStep, due_reminders

SENT = datetime(2021, 5, 4, 10, tzinfo=UTC)


def sent(step: int, at: datetime = SENT, by_rep: bool = True, contact: int = 1) -> SentStep:
    return SentStep(
        campaign_id=1,
        contact_id=contact,
        step=step,
        sent_at=at,
        by_rep=by_rep,
        last_step=3,
        rep_email="dana@example.com",
        contact_email=f"c{contact}@example.com",
        campaign="P2U",
    )


def test_a_reminder_is_due_exactly_reminder_days_after_the_send() -> None:
    assert due_reminders([sent(1)], [], SENT + timedelta(days=7, seconds=-1), 7) == []
    (reminder,) = due_reminders([sent(1)], [], SENT + timedelta(days=7), 7)
    assert (reminder.sent_step, reminder.next_step, reminder.due_at) == (
        1,
        2,
        SENT + timedelta(days=7),
    )
    assert due_reminders([sent(1)], [], SENT + timedelta(days=9), 10) == []


def test_only_the_latest_email_counts_and_the_next_one_not_sent_yet_is_suggested() -> None:
    later = SENT + timedelta(days=8)
    steps = [sent(1), sent(2, later)]
    assert due_reminders(steps, [], later + timedelta(days=6), 7) == []
    assert [r.next_step for r in due_reminders(steps, [], later + timedelta(days=7), 7)] == [3]
    # The rep started with email 2, then went back to email 1: email 3 is next.
    back = [sent(2), sent(1, later)]
    assert [r.next_step for r in due_reminders(back, [], later + timedelta(days=7), 7)] == [3]
    assert due_reminders([sent(3)], [], SENT + timedelta(days=30), 7) == [], "no email 4"


def test_an_automated_last_email_gives_no_rep_reminder() -> None:
    assert due_reminders([sent(1, by_rep=False)], [], SENT + timedelta(days=8), 7) == []


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
def test_what_ends_the_reminders(kind: str, offset: timedelta, reminded: bool) -> None:
    events = [ContactEvent(1, kind, SENT + offset), ContactEvent(2, "unsubscribe", SENT)]
    due = due_reminders([sent(1)], events, SENT + timedelta(days=8), 7)
    assert bool(due) is reminded


def test_reminders_are_per_contact_and_oldest_first() -> None:
    steps = [sent(1, SENT + timedelta(hours=2), contact=2), sent(1, contact=1)]
    due = due_reminders(steps, [], SENT + timedelta(days=8), 7)
    assert [r.contact_email for r in due] == ["c1@example.com", "c2@example.com"]


@pytest.mark.parametrize(("days", "ok"), [(6, False), (7, True), (10, True), (11, False)])
def test_reminder_days_must_be_7_to_10(tmp_path: Path, days: int, ok: bool) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'secret = "x"\nreminder_days = {days}\n')
    if ok:
        assert load_settings(config, environ={}).reminder_days == days
    else:
        with pytest.raises(ConfigError, match="reminder_days must be 7 to 10"):
            load_settings(config, environ={})
