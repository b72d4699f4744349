"""Rendering a rep's engagement digest mail: subject, HTML and text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from campaign_engine.core.kinds import EventKind
from campaign_engine.reps.digest_content import DigestEntry
from campaign_engine.reps.digest_schedule import rep_zone
from campaign_engine.reps.reminder_query import ReminderLine, draft_command, draft_path
from campaign_engine.reps.rep_view import (
    assign_command,
    contact_url,
    on_wall_clock,
    rep_mail_environment,
)
from campaign_engine.sending.meeting_guides import MeetingGuide
from campaign_engine.store.models import Rep

__all__ = ["RenderedDigest", "contacts", "meeting_guides", "render_digest"]


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    html: str
    text: str


def render_digest(
    templates_dir: Path,
    rep: Rep,
    entries: list[DigestEntry],
    now: datetime,
    reminders: list[ReminderLine] | None = None,
    base_url: str = "",
    unassigned: bool = False,
) -> RenderedDigest:
    """Subject, HTML and text of a digest (sandboxed Jinja2, HTML autoescaped); `reminders`
    fill the "Next emails due" section, with draft links under `base_url`. `unassigned`: the
    digest of accounts without a rep, to the fallback (`rep` gives only the time zone): it says
    so first, and how to give each account a rep."""
    zone = rep_zone(rep.timezone)
    env = rep_mail_environment(templates_dir, zone)
    requests = sum(1 for e in entries if e.top.kind == EventKind.CONTACT_REQUEST)
    reminders = reminders or []
    guides = meeting_guides(entries)
    parts = [contacts(len(entries))] if entries or not reminders else []
    if requests:
        parts.append(f"{requests} asked to be contacted")
    if reminders:
        parts.append(f"{len(reminders)} next email{'' if len(reminders) == 1 else 's'} due")
    subject = f"Email offer engagement: {', '.join(parts)}"
    if unassigned:
        subject = f"Unassigned email offer engagement (no rep owns these accounts): {parts[0]}"
    context: dict[str, Any] = {
        "rep": {"name": " ".join(rep.name.split()) or rep.email, "email": rep.email},
        "entries": entries,
        "guides": guides,
        "reminders": [_reminder_view(line, base_url, zone) for line in reminders],
        "subject": subject,
        "generated": on_wall_clock(now, zone),
        "contact_urls": {e.email: contact_url(base_url, e.contact_id) for e in entries},
        "unassigned": unassigned,
        "assign": {e.account: assign_command(e.account) for e in entries} if unassigned else {},
    }
    html = env.get_template("digests/digest.html.j2").render(context)
    text = env.get_template("digests/digest.txt.j2").render(context)
    return RenderedDigest(subject, html, text)


def meeting_guides(entries: list[DigestEntry]) -> dict[int, MeetingGuide]:
    """Each meeting guide the entries lead to, once, by meeting number (email N -> meeting N)."""
    guides = {e.top.step: e.top.guide for e in entries if e.top.step and e.top.guide}
    return dict(sorted(guides.items()))


def _reminder_view(line: ReminderLine, base_url: str, zone: ZoneInfo) -> dict[str, object]:
    draft = line.draft_id
    return {
        **line.to_json(),
        "sent_on": f"{line.reminder.sent_at.astimezone(zone):%Y-%m-%d}",
        "command": draft_command(draft) if draft else "",
        "url": f"{base_url.rstrip('/')}{draft_path(draft)}" if draft else "",
    }


def contacts(count: int) -> str:
    return f"{count} contact{'' if count == 1 else 's'}"
