"""The relay's pause state, as the console and /healthz show it.

PLACEHOLDER for issue 15: that work adds a relay pause state (sending stops when the relay or our
own set-up fails) and a function describing it. Until it is on main there is nothing to read, so
`relay_pause()` says "not paused"; once it lands, this is the one function to change (the
campaigns page shows "Sending paused since ..." and /healthz reports 503 from what it returns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from campaign_engine.store.db import Database

__all__ = ["RelayPause", "relay_pause"]


@dataclass(frozen=True)
class RelayPause:
    since: datetime
    reason: str


def relay_pause(db: Database) -> RelayPause | None:
    """The relay pause in force (None: sending is not paused). See the module note (issue 15)."""
    del db  # read by issue 15's describe function once it is on main
    return None
