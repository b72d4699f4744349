"""How rep-facing mail shows a moment, a link and a contact: the rep's wall clock with the zone
named, a link as its name (never a bare 1,000-pixel URL), a web-app link."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2.sandbox import SandboxedEnvironment

from campaign_engine.reps.digest_schedule import rep_zone
from campaign_engine.sending.templating import template_environment

__all__ = [
    "assign_command",
    "contact_url",
    "link_parts",
    "local_time",
    "on_wall_clock",
    "rep_mail_environment",
]

_NAMED_LINK = re.compile(r"^(?P<name>.*?):\s+(?P<url>https?://\S+)(?P<rest>.*)$")


def on_wall_clock(moment: datetime, zone: ZoneInfo) -> str:
    """'Tue 27 Apr 14:05 CEST' in the rep's time zone; the zone's name where its abbreviation is
    only an offset ('Tue 27 Apr 06:05 -03 America/Sao_Paulo')."""
    shown = moment.astimezone(zone).strftime("%a %d %b %H:%M %Z")
    if shown[-1:].isdigit():
        shown = f"{shown} {zone.key}"
    return shown


def local_time(moment: datetime, timezone: str) -> str:
    """'Tue 27 Apr 14:05 CEST': a moment on the rep's wall clock (UTC if the zone is unknown)."""
    return on_wall_clock(moment, rep_zone(timezone))


def assign_command(account: str) -> str:
    """How ops give an account without a rep its rep, as a command to paste."""
    return f"campaign accounts assign '{account}' REP_EMAIL"


def contact_url(base_url: str, contact_id: int | None) -> str:
    """The contact's page in the web app, or '' when there is no contact id."""
    return f"{base_url.rstrip('/')}/app/contacts/{contact_id}" if contact_id is not None else ""


def link_parts(text: str) -> tuple[str, str, str]:
    """(name, url, what follows) of a play item written "Name: https://...", else (text, "", "").

    >>> link_parts("Manage Compliance with GitLab: https://youtu.be/QV2dIocn-hk")
    ('Manage Compliance with GitLab', 'https://youtu.be/QV2dIocn-hk', '')
    >>> link_parts("Securing your software supply chain (assets coming soon)")
    ('Securing your software supply chain (assets coming soon)', '', '')
    """
    found = _NAMED_LINK.match(text)
    if not found:
        return text, "", ""
    return found["name"], found["url"], found["rest"].strip()


def rep_mail_environment(templates_dir: Path, zone: ZoneInfo | None = None) -> SandboxedEnvironment:
    """The mail template environment with the rep's filters: `link_parts` and,
    given the rep's zone, `local` (a moment on the rep's wall clock)."""
    env = template_environment(templates_dir)
    if zone is not None:
        env.filters["local"] = lambda moment: on_wall_clock(moment, zone)
    env.filters["link_parts"] = link_parts
    return env
