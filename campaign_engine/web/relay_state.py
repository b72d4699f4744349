"""The relay's pause state as the console, /healthz and /metrics show it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from campaign_engine.core.config import Settings
from campaign_engine.sending.relay_state import current_pause, describe_pause, is_paused
from campaign_engine.store.db import Database

__all__ = ["RelayPause", "relay_pause"]


@dataclass(frozen=True)
class RelayPause:
    since: datetime
    reason: str  # the one line `campaign status` prints: since when, why, what to do


def relay_pause(db: Database, settings: Settings, now: datetime) -> RelayPause | None:
    """The relay pause in force for these settings (None: sending is not paused)."""
    pause = current_pause(db)
    if pause is None or not is_paused(pause, settings, now):
        return None
    return RelayPause(pause.paused_since, describe_pause(pause, settings.timezone, now))
