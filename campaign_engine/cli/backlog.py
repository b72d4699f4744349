"""`campaign status`'s backlog line: how many emails are due now, and when they will be out."""

from __future__ import annotations

from campaign_engine.core.config import Settings
from campaign_engine.reporting.reports import RATE_SPAN, CampaignStatus

__all__ = ["backlog_line", "duration", "per_unit"]


def backlog_line(
    statuses: list[CampaignStatus], rate: float, settings: Settings, relay_paused: bool
) -> str | None:
    """One line: emails due now (queued or not yet), and the time to send them at `rate` (the
    sends per second of the last RATE_SPAN), or at the configured ceiling when nothing went out
    lately; None when nothing is due."""
    not_queued = sum(step.backlog for item in statuses for step in item.steps)
    queued = sum(step.due_waiting for item in statuses for step in item.steps)
    total = not_queued + queued
    if not total:
        return None
    line = f"backlog: {total:,} emails due now ({not_queued:,} not queued yet, {queued:,} queued)"
    if relay_paused:
        return line + "; they wait for the relay (sending is paused, see above)"
    minutes = int(RATE_SPAN.total_seconds() // 60)
    if rate > 0:
        return line + (
            f"; about {duration(total / rate)} at {per_unit(rate)}, the rate of the last"
            f" {minutes} minutes"
        )
    if settings.smtp.rate_limit > 0:
        ceiling, basis = (
            settings.smtp.rate_limit,
            f"[smtp] rate_limit {settings.smtp.rate_limit:g}/s",
        )
    else:
        ceiling = settings.max_per_tick / settings.tick_seconds
        basis = f"max_per_tick {settings.max_per_tick:,} every {settings.tick_seconds:g} s"
    return line + (
        f"; nothing was sent in the last {minutes} minutes (is `campaign run` running?);"
        f" at {basis} it takes at least {duration(total / ceiling)}"
    )


def per_unit(per_second: float) -> str:
    """'12.5/s', or '1.0/min' below one a second."""
    return f"{per_second:.1f}/s" if per_second >= 1 else f"{per_second * 60:.1f}/min"


def duration(seconds: float) -> str:
    """'under a minute', '25 min', '2 h 05 min', '3 days 4 h'."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h"
