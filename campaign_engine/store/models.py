"""SQLModel tables: the database is the only source of truth."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from campaign_engine.core.kinds import (
    AlertState,
    Channel,
    DraftStatus,
    EnrollmentStatus,
    MessageState,
    OutreachMode,
    UserRole,
)

__all__ = [
    "MAX_ID",
    "WITH_REASON",
    "Account",
    "Alert",
    "Campaign",
    "Contact",
    "Draft",
    "Enrollment",
    "Event",
    "Exclusion",
    "ExclusionAudit",
    "ExclusionDeadline",
    "LoginFailure",
    "Message",
    "ReminderNotice",
    "Rep",
    "Suppression",
    "ThreadOutcome",
    "UTCDateTime",
    "User",
    "WebSession",
    "parse_link_registry",
    "utc",
]


def utc(moment: datetime) -> datetime:
    """Return `moment` as an aware UTC datetime (naive input is taken to be UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC on every backend, hands back aware UTC datetimes."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


MAX_ID = 2**31 - 1  # ids are INTEGER columns (PostgreSQL: 32 bits); a larger one finds nothing


def _when(index: bool = False, nullable: bool = True) -> Any:
    return Field(default=None, sa_type=UTCDateTime, index=index, nullable=nullable)


class Rep(SQLModel, table=True):
    """A sales rep who owns accounts and receives alerts."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True)
    name: str = ""
    title: str = ""
    timezone: str = "UTC"


class Account(SQLModel, table=True):
    """A customer organisation; its segment decides automated mail or rep outreach."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    employees: int | None = None
    segment: str = "SMB"
    rep_id: int | None = Field(default=None, foreign_key="rep.id", index=True)
    # the owner_email of the last import: linked to rep_id once a rep has that address
    owner_email: str | None = Field(default=None, index=True)


class Contact(SQLModel, table=True):
    """A person at an account; email is stored lower-cased and unique."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True)
    first_name: str = ""
    last_name: str = ""
    title: str = ""
    account_id: int = Field(foreign_key="account.id", index=True)
    outreach_mode: str = OutreachMode.MARKETING
    timezone: str = ""  # IANA zone from the CSV or derived from country/region; "" = unknown
    unsubscribed_at: datetime | None = _when()
    created_at: datetime | None = _when()
    updated_at: datetime | None = _when()


class Campaign(SQLModel, table=True):
    """One launch of a sequence; the sequence is snapshotted so later file edits change nothing."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    sequence_key: str
    sequence_json: str  # frozen copy of the sequence at launch
    links_json: str = "{}"  # step number -> the URLs its emails may link to (tracked by index)
    start_date: date
    timezone: str = "UTC"
    window_start: str = "09:00"
    window_end: str = "17:00"
    send_days: str = ""  # "mon-fri", ...; "" = every day
    late_joiners: bool = True  # enrol contacts that become eligible after launch
    enroll_until: date | None = None  # last local day a late joiner may start (None: no limit)
    created_at: datetime | None = _when()
    paused: bool = False  # ops paused it in the console: the dispatcher plans and sends nothing
    paused_at: datetime | None = _when()
    paused_by: str | None = None
    pause_reason: str | None = None  # why the brakes paused it (None: paused by a person)
    brakes_since: datetime | None = _when()  # the brakes judge the sends from here (resumed at)

    def link_registry(self) -> dict[int, list[str]]:
        """Step number -> the URLs its emails may link to (a click token holds the index)."""
        return parse_link_registry(self.links_json)


def parse_link_registry(links_json: str) -> dict[int, list[str]]:
    """A campaign's `links_json` as step number -> URLs (the one reader of that column)."""
    return {int(k): list(v) for k, v in json.loads(links_json or "{}").items()}


class Enrollment(SQLModel, table=True):
    """A contact in a campaign, on the automated or the rep channel."""

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "contact_id"),
        sa.Index("ix_enrollment_due", "campaign_id", "channel", "status", "next_due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id")
    contact_id: int = Field(foreign_key="contact.id", index=True)
    channel: str = Channel.AUTOMATED
    status: str = EnrollmentStatus.ACTIVE
    stop_reason: str | None = None
    next_step: int = 1
    timezone: str = ""  # the zone its steps are planned in (contact's, account's or campaign's)
    first_day: date | None = None  # local day of step 1 (the campaign start, or a late joiner's)
    late_joiner: bool = False  # enrolled by a tick after launch
    # A message of it is sent (state sent, with its send time): the report's "touched"
    # contacts. `message_counts` keeps it as its messages change.
    emailed: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    last_step_at: datetime | None = _when()  # when the previous step was sent or settled
    next_due_at: datetime | None = _when()  # None while a step is in flight or when finished
    enrolled_at: datetime | None = _when()
    stopped_at: datetime | None = _when()


# Messages with a reason to show (skipped, or held back): few, found by ix_message_reasons.
WITH_REASON = sa.text("(state = 'skipped' OR skip_reason IS NOT NULL)")


class Message(SQLModel, table=True):
    """One email to one contact for one step; written (queued) before SMTP is touched."""

    __table_args__ = (
        sa.UniqueConstraint("enrollment_id", "step"),
        sa.Index("ix_message_claim", "state", "next_attempt_at"),
        # the console: a campaign's status table and its sends per day, from the index alone
        sa.Index("ix_message_campaign_status", "campaign_id", "step", "state", "skip_reason"),
        sa.Index("ix_message_campaign_sent", "campaign_id", "sent_at"),
        sa.Index(
            "ix_message_reasons",
            "campaign_id",
            "step",
            "state",
            "skip_reason",
            sqlite_where=WITH_REASON,
            postgresql_where=WITH_REASON,
        ),
        # the report: events meet their messages (and the contact's slice) from the index alone
        sa.Index(
            "ix_message_report",
            "id",
            "campaign_id",
            "step",
            "contact_id",
            "segment",
            "title",
            "rep_id",
        ),
        # the drafts lists: when the email before each draft went out, from the index alone
        sa.Index("ix_message_thread_sent", "enrollment_id", "step", "state", "sent_at"),
        # each relay's share of the sends of the last day, from the index alone
        sa.Index("ix_message_relay_sent", "sent_at", "relay"),
        # the brakes: a campaign's (and every campaign's) last sends
        sa.Index("ix_message_campaign_attempted", "campaign_id", "first_attempt_at"),
        sa.Index("ix_message_attempted", "first_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int = Field(foreign_key="enrollment.id")
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    step: int
    origin: str = Channel.AUTOMATED
    state: str = MessageState.QUEUED
    recipient: str = ""
    subject: str = ""
    message_id_header: str = Field(default="", index=True)  # replies name it (In-Reply-To)
    attempts: int = 0  # answers from the relay about this message (relay faults do not count)
    skip_reason: str | None = None
    error: str | None = None
    claimed_by: str | None = None
    # Claimed and cleared for the relay: a claim that dies with this set is `uncertain`, one
    # that dies without it was never handed over and goes back to the queue.
    on_wire: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    first_attempt_at: datetime | None = _when()  # retries give up `give_up_after` from here
    due_at: datetime | None = _when()
    next_attempt_at: datetime | None = _when()
    claimed_until: datetime | None = _when()
    sent_at: datetime | None = _when()
    created_at: datetime | None = _when()
    relay: str | None = None  # the relay that took it ([[smtp.relays]] name)
    # Who the contact was when the message was queued, as the report slices it: its account's
    # segment and rep, its title, and the zone of its calendar (the enrolment's, else the
    # campaign's). Filled when the message is written (`message_counts`); None: not yet.
    segment: str | None = None
    title: str | None = None
    rep_id: int | None = None
    zone: str | None = None


class Event(SQLModel, table=True):
    """Something a recipient (or a machine acting for one) did: open, click, request..."""

    # a message's events in time order: the tracking writer reads only a message's recent ones
    __table_args__ = (sa.Index("ix_event_message_time", "message_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    link_index: int | None = None
    url: str | None = None
    is_human: bool = True
    bot_reason: str | None = None
    user_agent: str | None = None
    ip_prefix: str | None = None
    note: str | None = None
    occurred_at: datetime | None = _when(index=True)


class Suppression(SQLModel, table=True):
    """An address that must never get marketing mail again (unsubscribe, hard bounce, complaint)."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True)
    reason: str
    source: str = ""
    created_at: datetime | None = _when()


class Exclusion(SQLModel, table=True):
    """Ops said: do not mail this address (or domain), in one campaign or all of them."""

    id: int | None = Field(default=None, primary_key=True)
    email: str | None = Field(default=None, index=True)
    domain: str | None = Field(default=None, index=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id")
    reason: str = ""
    source_file: str = ""
    source_line: int | None = None
    created_by: str = ""
    created_at: datetime | None = _when()
    removed_at: datetime | None = _when()
    removed_by: str | None = None
    upload_id: int | None = Field(default=None, foreign_key="exclusionupload.id", index=True)


class SendClock(SQLModel, table=True):
    """The shared rate limit's one row: when the next free send slot begins (epoch seconds)."""

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    next_slot: float


class Alert(SQLModel, table=True):
    """A mail to a rep (contact request...), rendered when raised; retried until sent."""

    __table_args__ = (sa.Index("ix_alert_pending", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)
    rep_id: int | None = Field(default=None, foreign_key="rep.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    recipient: str = ""
    reply_to: str = ""
    subject: str = ""
    text: str = Field(default="", sa_type=sa.Text)
    html: str = Field(default="", sa_type=sa.Text)
    state: str = AlertState.QUEUED
    attempts: int = 0
    error: str | None = None
    first_attempt_at: datetime | None = _when()
    created_at: datetime | None = _when()
    next_attempt_at: datetime | None = _when()
    claimed_until: datetime | None = _when()
    sent_at: datetime | None = _when()


class Draft(SQLModel, table=True):
    """One personalised email of the sequence that a rep reviews, edits and sends.

    `body_text` is what the rep edits: offer links as their original URLs, the call to action as
    `{{contact_url}}`; tracking, the open pixel and the footer are added when it is sent.
    `body_html` is the template's HTML until the rep edits the text, then empty (built from it).
    """

    __table_args__ = (sa.UniqueConstraint("enrollment_id", "step"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    enrollment_id: int = Field(foreign_key="enrollment.id")
    contact_id: int = Field(foreign_key="contact.id", index=True)
    rep_id: int | None = Field(default=None, foreign_key="rep.id", index=True)
    step: int
    subject: str = ""
    body_text: str = ""
    body_html: str = ""
    footer_text: str = ""
    footer_html: str = ""
    status: str = Field(default=DraftStatus.DRAFT, index=True)
    status_note: str | None = None
    created_at: datetime | None = _when()
    edited_at: datetime | None = _when()
    sent_at: datetime | None = _when()
    message_id: int | None = Field(default=None, foreign_key="message.id")


class ThreadOutcome(SQLModel, table=True):
    """A rep moved the conversation with a contact on (meeting or opportunity): no more reminders."""

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    rep_id: int | None = Field(default=None, foreign_key="rep.id")
    reason: str
    note: str = ""
    created_at: datetime | None = _when()


class ReminderNotice(SQLModel, table=True):
    """A next-step reminder the rep was told about, in a digest or by email (each one once)."""

    __table_args__ = (sa.UniqueConstraint("campaign_id", "contact_id", "step"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id")
    contact_id: int = Field(foreign_key="contact.id", index=True)
    rep_id: int = Field(foreign_key="rep.id")
    step: int  # the step the rep was reminded to send
    created_at: datetime | None = _when()
    sent_at: datetime | None = _when()


class ExclusionAudit(SQLModel, table=True):
    """Append-only log of exclusion changes: who added or removed which one, when and why."""

    id: int | None = Field(default=None, primary_key=True)
    exclusion_id: int = Field(foreign_key="exclusion.id", index=True)
    action: str  # "add" or "remove"
    actor: str = ""
    reason: str = ""
    source_file: str = ""
    source_line: int | None = None
    at: datetime | None = _when()


class ExclusionDeadline(SQLModel, table=True):
    """The day by which reps should have sent their exclusions for one campaign."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", unique=True)
    deadline: date
    set_by: str = ""
    set_at: datetime | None = _when()


class User(SQLModel, table=True):
    """Someone who logs in to the web app; the password is stored as an argon2 hash only."""

    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True)
    role: str = UserRole.REP
    password_hash: str = Field(repr=False)
    created_at: datetime | None = _when()
    disabled: bool = False
    disabled_at: datetime | None = _when()


class WebSession(SQLModel, table=True):
    """A web-app login. The cookie carries only a random id and this row its SHA-256, so
    neither the signing key nor a copy of the database is enough to make a working cookie;
    logout, removal and a new password delete the user's rows."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, repr=False)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    login_at: datetime = _when(index=True, nullable=False)


class LoginFailure(SQLModel, table=True):
    """A refused web-app login; too many for one email in a while and logins wait (429)."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True)
    ip_prefix: str | None = None
    at: datetime | None = _when(index=True)


class StageChange(SQLModel, table=True):
    """A contact's opportunity moved to a sales stage on a day (history: rows are never updated)."""

    __table_args__ = (sa.UniqueConstraint("contact_id", "stage", "changed_on"),)

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    stage: int  # 0 Pending Acceptance ... 7 Closed Won, 8 Lost (stages.STAGES)
    changed_on: date
    source: str = ""  # "cli", or "FILE:LINE" of the CSV row that recorded it
    recorded_at: datetime | None = _when()
