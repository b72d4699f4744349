"""Shared set-up of the inbound tests: a config with reply and bounce addresses, a campaign."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from campaign_engine.audience.imports import import_contacts, import_reps
from campaign_engine.core.config import Settings, load_settings
from campaign_engine.engine.launch import launch
from campaign_engine.store.db import Database
from tests.helpers import write_csv

DANA = "dana.reyes@gitlab-demo.example"
TOMAS = "tomas.herrera@gitlab-demo.example"
START = date(2021, 4, 27)
LAUNCH_TIME = datetime(2021, 4, 20, 12, tzinfo=UTC)
REPLIES = "replies@gitlab-demo.example"
BOUNCES = "bounces@gitlab-demo.example"
OPTOUT = "optout@gitlab-demo.example"

# SMB mode C contacts get the automated sequence; mia (MM) is the rep's.
CONTACTS = [
    ["ada@tiny.example", "Ada", "Lovelace", "Developer", "Tiny Co", "12", "", DANA, "C"],
    ["grace@tiny.example", "Grace", "Hopper", "CISO", "Tiny Co", "12", "", DANA, "C"],
    ["hans@klein.example", "Hans", "Müller", "Entwickler", "Klein GmbH", "20", "", DANA, "C"],
    ["claire@petit.example", "Claire", "Dubois", "RSSI", "Petit SARL", "30", "", DANA, "C"],
    ["otto@away.example", "Otto", "Urlaub", "Developer", "Away AG", "40", "", DANA, "C"],
    ["gone@nowhere.example", "Gus", "Gone", "Developer", "Nowhere Inc", "15", "", DANA, "C"],
    ["full@mailbox.example", "Fay", "Full", "Developer", "Full Ltd", "15", "", DANA, "C"],
    ["exim@old.example", "Eli", "Exim", "Developer", "Old Co", "15", "", DANA, "C"],
    ["xch@corp.example", "Xena", "Change", "Developer", "Corp Ltd", "15", "", DANA, "C"],
    ["angry@yahoo.example", "Al", "Angry", "Developer", "Yahoo Fan", "15", "", DANA, "C"],
    ["cross@outlook.example", "Cy", "Cross", "Developer", "MS Fan", "15", "", DANA, "C"],
    ["quit@tiny.example", "Quinn", "Quit", "Developer", "Tiny Co", "12", "", DANA, "C"],
    ["pat@team.example", "Pat", "Lead", "CTO", "Team Co", "25", "", DANA, "C"],
    ["mia@midsize.example", "Mia", "Middle", "CTO", "Midsize", "300", "", TOMAS, ""],
]


def inbound_config(settings: Settings, **extra: str) -> Settings:
    """The test config plus reply/bounce/unsubscribe addresses (and any [inbox] keys)."""
    top = (
        f'reply_to = "{REPLIES}"\nreply_subaddress = true\n'
        f'bounce_address = "{BOUNCES}"\nunsubscribe_mailto = "{OPTOUT}"\n'
    )
    inbox = "".join(f"{key} = {value}\n" for key, value in extra.items())
    text = settings.config_path.read_text().replace("[smtp]", top + "[smtp]")
    if inbox:
        text += "\n[inbox]\n" + inbox
    settings.config_path.write_text(text)
    return load_settings(settings.config_path, environ={})


@pytest.fixture(name="inbound_settings")
def inbound_settings_fixture(settings: Settings) -> Settings:
    return inbound_config(settings)


@pytest.fixture(name="launched")
def launched_fixture(db: Database, inbound_settings: Settings, tmp_path: Path) -> str:
    reps = tmp_path / "reps.csv"
    reps.write_text(
        f"email,name,title,timezone\n{DANA},Dana Reyes,AE,UTC\n{TOMAS},Tomás Herrera,AE,UTC\n"
    )
    import_reps(db, reps)
    result = import_contacts(db, write_csv(tmp_path / "targets.csv", CONTACTS), LAUNCH_TIME)
    assert result.rejected == []
    return launch(db, inbound_settings, "premium-to-ultimate", START, LAUNCH_TIME).name
