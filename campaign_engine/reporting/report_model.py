"""The report's shapes: the plain rows it is computed from and the numbers it gives (no logic).

`funnel.compute_report` fills them; `report_to_dict` is the JSON export and what the dashboard
renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from campaign_engine.sending.eligibility import ExclusionRule
from campaign_engine.sending.sequences import Sequence

__all__ = [
    "CampaignReport",
    "CampaignRow",
    "ContactRow",
    "DayCount",
    "EnrollmentRow",
    "EventRow",
    "Figures",
    "MessageRow",
    "OfferFigures",
    "RepFigures",
    "RepRow",
    "Report",
    "ReportData",
    "SegmentReport",
    "StageFigures",
    "StageRow",
    "StepReport",
    "report_to_dict",
]


# --- input rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignRow:
    """A campaign with its frozen sequence and the URLs each step links to (by index)."""

    id: int
    name: str
    sequence: Sequence
    links: Mapping[int, list[str]]
    start_date: date
    timezone: str = "UTC"


@dataclass(frozen=True)
class ContactRow:
    id: int
    email: str
    segment: str
    persona: str  # by the shipped rule; a campaign's own table decides from `title`
    rep_id: int | None
    title: str = ""


@dataclass(frozen=True)
class EnrollmentRow:
    campaign_id: int
    contact_id: int
    channel: str


@dataclass(frozen=True)
class MessageRow:
    id: int
    campaign_id: int
    contact_id: int
    step: int
    origin: str
    state: str
    sent_at: datetime | None = None
    skip_reason: str | None = None


@dataclass(frozen=True)
class EventRow:
    id: int
    kind: str
    message_id: int | None
    occurred_at: datetime
    is_human: bool = True
    bot_reason: str | None = None
    link_index: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class StageRow:
    contact_id: int
    stage: int
    changed_on: date


@dataclass(frozen=True)
class RepRow:
    id: int
    email: str
    name: str


@dataclass(frozen=True)
class ReportData:
    """Everything the report is computed from; `reminders` maps (campaign id, rep id) -> pending."""

    campaigns: tuple[CampaignRow, ...]
    contacts: tuple[ContactRow, ...] = ()
    enrollments: tuple[EnrollmentRow, ...] = ()
    messages: tuple[MessageRow, ...] = ()
    events: tuple[EventRow, ...] = ()
    exclusions: tuple[ExclusionRule, ...] = ()  # active ones
    stages: tuple[StageRow, ...] = ()
    reps: tuple[RepRow, ...] = ()
    reminders: Mapping[tuple[int, int], int] = field(default_factory=dict)


# --- output ---------------------------------------------------------------------------------


@dataclass
class Figures:
    """The funnel of one slice (a campaign, a step or a segment)."""

    enrolled: int = 0
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    opens_unique: int = 0
    opens_total: int = 0
    apple_opens: int = 0
    clicks_unique: int = 0
    clicks_total: int = 0
    ctor: float | None = None
    contact_page_visits: int = 0
    contact_requests: int = 0
    unsubscribes: int = 0
    excluded: int = 0
    replies: int = 0  # contacts who answered by email (from the reply mailbox)
    auto_replies: int = 0  # contacts whose mailbox answered automatically (out of office...)
    complaints: int = 0  # contacts who reported the email as spam (feedback loop)
    scanner_opens: int = 0
    scanner_clicks: int = 0


@dataclass
class StepReport:
    step: int
    subject: str
    day: int
    figures: Figures


@dataclass
class SegmentReport:
    segment: str
    figures: Figures


@dataclass
class OfferFigures:
    """Which assets work: clicks per offer; `offered` = delivered emails that carried it."""

    step: int
    name: str
    url: str
    persona: str
    offered: int
    clicks_unique: int
    clicks_total: int
    click_rate: float | None


@dataclass
class RepFigures:
    rep: str  # the rep's email, or "" for accounts without a rep
    name: str
    contacts: int
    drafts_sent: int
    reminders_pending: int
    requests_received: int
    sao: int


@dataclass
class DayCount:
    day: str  # YYYY-MM-DD in the campaign's time zone
    opens: int
    clicks: int
    requests: int


@dataclass
class StageFigures:
    stage: int
    name: str
    reached: int  # touched contacts whose history has this stage
    current: int  # ... whose latest stage it is
    average_days: float | None  # mean time spent in it, over those who moved on


@dataclass
class CampaignReport:
    name: str
    sequence: str
    start_date: str
    timezone: str
    totals: Figures
    steps: list[StepReport]
    segments: list[SegmentReport]
    offers: list[OfferFigures]
    reps: list[RepFigures]
    daily: list[DayCount]
    touched: int
    sao: int
    stages: list[StageFigures]


@dataclass
class Report:
    generated_at: str
    campaigns: list[CampaignReport]


def report_to_dict(report: Report) -> dict[str, Any]:
    """The JSON export; the dashboard renders the very same numbers."""
    return asdict(report)
