"""Pausing a campaign: ops stop all of its sending at once (and resume it), from the console.

A paused campaign queues and sends nothing (the dispatcher skips it); messages already queued
stay queued and go out once it is resumed, inside the send window as usual. The automatic
brakes pause a campaign the same way (sending.brakes); resuming it starts their window afresh.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from campaign_engine.core.kinds import CampaignAction
from campaign_engine.store import queries
from campaign_engine.store.campaign_log import log_campaign_action

__all__ = ["set_campaign_paused"]


def set_campaign_paused(session: Session, name: str, paused: bool, now: datetime, by: str) -> bool:
    """Pause (or resume) the campaign `name`; False when it already was. NotFound if unknown."""
    campaign = queries.campaign_by_name(session, name)
    if campaign.paused == paused:
        return False
    campaign.paused = paused
    campaign.paused_at = now if paused else None
    campaign.paused_by = by if paused else None
    campaign.pause_reason = None
    if not paused:
        campaign.brakes_since = now  # the brakes judge what it sends from now on
    session.add(campaign)
    assert campaign.id is not None
    action = CampaignAction.PAUSED if paused else CampaignAction.RESUMED
    log_campaign_action(session, campaign.id, action, by, now)
    session.commit()
    return True
