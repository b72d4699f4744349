"""What the CLI shows about local send times: each zone's first send, sends per local day."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich.table import Table

from campaign_engine.cli.app import out
from campaign_engine.reporting.reports import CampaignStatus

__all__ = ["first_sends_table", "print_local_days"]


def first_sends_table(first_sends: dict[str, datetime]) -> Table:
    """Each time zone's first email: its local time and UTC."""
    table = Table(title="First email per time zone")
    for column in ("time zone", "local", "UTC"):
        table.add_column(column)
    for tz, moment in sorted(first_sends.items(), key=lambda item: item[1]):
        local = moment.astimezone(ZoneInfo(tz))
        table.add_row(tz, local.strftime("%a %Y-%m-%d %H:%M"), moment.strftime("%Y-%m-%d %H:%M"))
    return table


def print_local_days(item: CampaignStatus) -> None:
    """Sends per local day (each contact's own calendar) and the late joiners."""
    days = ", ".join(f"{day} {n}" for day, n in item.sent_per_local_day.items())
    out.print(f"sent per local day: {days or 'none yet'}; late joiners: {item.late_joiners}")
