"""How rep-facing mail shows a moment and a contact: the rep's wall clock, a web-app link."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from campaign_engine.reps.digest_schedule import rep_zone

__all__ = ["contact_url", "local_time", "on_wall_clock"]


def on_wall_clock(moment: datetime, zone: ZoneInfo) -> str:
    """'Tue 27 Apr 14:05 CEST' in the rep's time zone."""
    return moment.astimezone(zone).strftime("%a %d %b %H:%M %Z")


def local_time(moment: datetime, timezone: str) -> str:
    """'Tue 27 Apr 14:05 CEST': a moment on the rep's wall clock (UTC if the zone is unknown)."""
    return on_wall_clock(moment, rep_zone(timezone))


def contact_url(base_url: str, contact_id: int | None) -> str:
    """The contact's page in the web app, or '' when there is no contact id."""
    return f"{base_url.rstrip('/')}/app/contacts/{contact_id}" if contact_id is not None else ""
