"""A campaign's frozen sequence, its schedule and its renderer, as the senders need them."""

from __future__ import annotations

from datetime import date, datetime, time

from campaign_engine.core.config import Settings
from campaign_engine.core.tokens import TokenSigner
from campaign_engine.sending.planner import Schedule, parse_send_days
from campaign_engine.sending.render import Company, LinkTracker, Renderer
from campaign_engine.sending.sequences import Sequence
from campaign_engine.store.models import (
    Campaign,
)

__all__ = ["first_local_day", "renderer_for", "schedule_for", "sequence_of"]


def sequence_of(campaign: Campaign) -> Sequence:
    return Sequence.from_json(campaign.sequence_json)


def schedule_for(campaign: Campaign, sequence: Sequence) -> Schedule:
    return Schedule(
        start_date=campaign.start_date,
        timezone=campaign.timezone,
        window_start=time.fromisoformat(campaign.window_start),
        window_end=time.fromisoformat(campaign.window_end),
        step_days=tuple(step.day for step in sequence.steps),
        send_days=parse_send_days(campaign.send_days),
    )


def renderer_for(
    settings: Settings, sequence: Sequence, links: dict[int, list[str]] | None = None
) -> Renderer:
    return Renderer(
        settings.templates_dir,
        sequence,
        Company(settings.company_name, settings.postal_address),
        LinkTracker(TokenSigner(settings.secret), settings.tracking_base_url),
        link_registry=links,
    )


def first_local_day(
    schedule: Schedule, campaign: Campaign, now: datetime, tz: str, late: bool
) -> tuple[date | None, bool]:
    """(local day of step 1, joined late?); None when the campaign takes nobody new."""
    on_time = schedule.launch_first_day
    if not late:
        return on_time, False
    day = schedule.first_day_from(now, tz)
    if day <= on_time:
        return on_time, False  # joined before the campaign started: an ordinary start
    if campaign.enroll_until is not None and day > campaign.enroll_until:
        return None, True
    return day, True
