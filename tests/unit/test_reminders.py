"""next_step: the email to suggest after the thread's latest one; reminder_days bounds (no DB;
which reminders are due is tested on both databases in test_reminder_query.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign_engine.core.config import load_settings
from campaign_engine.core.errors import ConfigError
from campaign_engine.reps.reminders import next_step


def test_the_next_email_is_the_first_later_one_not_sent_yet() -> None:
    assert next_step(1, 3, {1}) == 2
    assert next_step(1, 3, {1, 2}) == 3, "email 2 went out before email 1"
    assert next_step(2, 3, {1, 2, 3}) is None
    assert next_step(3, 3, {3}) is None, "no email 4"


@pytest.mark.parametrize(("days", "ok"), [(6, False), (7, True), (10, True), (11, False)])
def test_reminder_days_must_be_7_to_10(tmp_path: Path, days: int, ok: bool) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'secret = "x"\nreminder_days = {days}\n')
    if ok:
        assert load_settings(config, environ={}).reminder_days == days
    else:
        with pytest.raises(ConfigError, match="reminder_days must be 7 to 10"):
            load_settings(config, environ={})
