"""Ops hear at once when the automatic brakes pause a campaign: one email to each fallback
address (`[reps] unassigned_to`, else the console's ops users), queued in the transaction that
pauses it and sent like every alert (reps.alerts)."""

from __future__ import annotations

from datetime import datetime
from html import escape

from sqlmodel import Session

from campaign_engine.core.config import Settings
from campaign_engine.reps.alerts import queue_alert
from campaign_engine.reps.request_alerts import fallback_recipients
from campaign_engine.sending.brakes import BrakePause, OnPause

__all__ = ["CAMPAIGNS_PATH", "CAMPAIGN_PAUSED", "ops_alert"]

CAMPAIGN_PAUSED = "campaign_paused"  # the alert's kind (X-Campaign-Alert)
CAMPAIGNS_PATH = "/app/campaigns"  # the console's campaigns page


def ops_alert(settings: Settings) -> OnPause:
    """What the dispatcher and the inbound reports call when the brakes pause a campaign."""

    def alert(session: Session, pause: BrakePause, now: datetime) -> None:
        console = settings.tracking_base_url.rstrip("/") + CAMPAIGNS_PATH
        lines = [
            f"The brakes paused campaign {pause.campaign}: nobody else is mailed in it until it"
            " is resumed; its queued emails wait, nothing is lost.",
            "",
            pause.reason,
            "",
            f"Console: {console}",
        ]
        text = "\n".join(lines) + "\n"
        html = "".join(f"<p>{escape(line)}</p>" for line in lines if line)
        for recipient in fallback_recipients(session, settings) or [""]:
            queue_alert(
                session,
                kind=CAMPAIGN_PAUSED,
                rep_id=None,
                recipient=recipient,
                contact_id=None,
                subject=f"Campaign {pause.campaign} paused by the brakes",
                text=text,
                html=html,
                reply_to="",
                now=now,
            )

    return alert
