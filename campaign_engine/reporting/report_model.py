"""The report's shapes: the grouped counts SQL gives and the numbers the report shows (no logic).

`report_queries.count_report` counts, `funnel.compute_report` assembles; `report_to_dict` is the JSON export and what the dashboard
renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from campaign_engine.sending.sequences import Sequence

__all__ = [
    "Audience",
    "CampaignReport",
    "CampaignRow",
    "DayCount",
    "DayEngagement",
    "Engagement",
    "Figures",
    "Group",
    "GroupEngagement",
    "OfferClicks",
    "OfferFigures",
    "Outcome",
    "PersonaReport",
    "RepFigures",
    "RepRow",
    "Report",
    "ReportCounts",
    "SegmentReport",
    "StageFigures",
    "StageRow",
    "StepEngagement",
    "StepReport",
    "report_to_dict",
]


# --- input: what SQL counts, grouped (few rows however many messages) -----------------------


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
class Group:
    """Who contacts are, as far as the report slices them: segment, title (-> persona) and rep.

    Every count per group is over disjoint sets of contacts, so distinct-contact counts add up."""

    segment: str
    title: str = ""
    rep_id: int | None = None


@dataclass(frozen=True)
class Audience:
    """Enrolled contacts of a group in a campaign, those of them under an active exclusion, and
    those the campaign emailed (`touched`: a message in state sent)."""

    campaign_id: int
    group: Group
    enrolled: int
    excluded: int = 0
    touched: int = 0


@dataclass(frozen=True)
class Outcome:
    """Messages of one campaign, step, group and origin that ended one way (`MessageOutcome`)."""

    campaign_id: int
    step: int
    group: Group
    origin: str
    outcome: str
    messages: int


@dataclass(frozen=True)
class Engagement:
    """Events on a slice's messages: totals of events and `*ers` = distinct contacts."""

    opens_total: int = 0
    clicks_total: int = 0
    contact_page_visits: int = 0
    apple_opens: int = 0
    scanner_opens: int = 0
    scanner_clicks: int = 0
    openers: int = 0  # opened or clicked (a click implies the open)
    clickers: int = 0
    requesters: int = 0
    unsubscribers: int = 0
    repliers: int = 0
    auto_repliers: int = 0
    complainers: int = 0


@dataclass(frozen=True)
class GroupEngagement:
    campaign_id: int
    group: Group
    engagement: Engagement


@dataclass(frozen=True)
class StepEngagement:
    campaign_id: int
    step: int
    engagement: Engagement


@dataclass(frozen=True)
class OfferClicks:
    """Human clicks on one step's links that went to one offer (named by `offer_for_click`)."""

    campaign_id: int
    step: int
    name: str
    url: str
    clicks_unique: int
    clicks_total: int


@dataclass(frozen=True)
class DayEngagement:
    """Human opens, clicks and contact requests of a campaign on a day of its time zone."""

    campaign_id: int
    day: date
    opens: int = 0
    clicks: int = 0
    requests: int = 0


@dataclass(frozen=True)
class StageRow:
    """One stage change of a contact the campaign emailed (first on `first_sent`, a UTC day)."""

    campaign_id: int
    contact_id: int
    group: Group
    first_sent: date
    stage: int
    changed_on: date


@dataclass(frozen=True)
class RepRow:
    id: int
    email: str
    name: str


@dataclass(frozen=True)
class ReportCounts:
    """Everything the report is computed from; `reminders` maps (campaign id, rep id) -> pending."""

    campaigns: tuple[CampaignRow, ...]
    audience: tuple[Audience, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    by_group: tuple[GroupEngagement, ...] = ()
    by_step: tuple[StepEngagement, ...] = ()
    offer_clicks: tuple[OfferClicks, ...] = ()
    days: tuple[DayEngagement, ...] = ()
    stages: tuple[StageRow, ...] = ()
    sent_per_local_day: Mapping[int, dict[str, int]] = field(default_factory=dict)
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
class TitleSlice:
    """Contacts whose titles a table of the campaign's sequence gives one label: their
    engagement and SAO; rates are of the contacts emailed."""

    titles: int  # distinct job titles among its contacts
    emailed: int
    figures: Figures
    sao: int
    open_rate: float | None
    click_rate: float | None
    request_rate: float | None
    sao_rate: float | None


@dataclass
class PersonaReport(TitleSlice):
    """By the [personas] table (which offer a title gets)."""

    persona: str = ""


@dataclass
class RoleReport(TitleSlice):
    """By the [roles] table: economic buyer, technical influencer or other."""

    role: str = ""


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
    personas: list[PersonaReport] = field(default_factory=list)
    roles: list[RoleReport] = field(default_factory=list)
    longest_stage: StageFigures | None = None  # the highest average days, of those known
    sent_per_local_day: dict[str, int] = field(default_factory=dict)  # recipients' calendars
    # contact requests from this campaign's emails by how the rep handled them ("open": not yet)
    requests_handled: dict[str, int] = field(default_factory=dict)


@dataclass
class Report:
    generated_at: str
    campaigns: list[CampaignReport]


def report_to_dict(report: Report) -> dict[str, Any]:
    """The JSON export; the dashboard renders the very same numbers."""
    return asdict(report)
