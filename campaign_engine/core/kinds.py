"""Every enum of the engine in one place: states, kinds, channels, roles and modes."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AlertState",
    "CampaignAction",
    "Channel",
    "DigestMode",
    "DigestState",
    "DraftStatus",
    "EnrollmentStatus",
    "EventKind",
    "InboundKind",
    "MessageOutcome",
    "MessageState",
    "OutreachMode",
    "RequestOutcome",
    "ReviewStatus",
    "SuppressReason",
    "ThreadMark",
    "UploadState",
    "UserRole",
]


class OutreachMode(StrEnum):
    DO_NOTHING = "A"
    SALES_ONLY = "B"
    MARKETING = "C"


class Channel(StrEnum):
    AUTOMATED = "automated"  # the engine sends on schedule (SMB, mode C)
    REP = "rep"  # the account's rep sends drafts through the engine (MM/ENT, mode B)


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    STOPPED = "stopped"


class MessageState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by a worker; SMTP may be in progress
    SENT = "sent"
    RETRY = "retry"  # 4xx or connection trouble; next_attempt_at says when
    FAILED = "failed"  # refused for good, or gave up after give_up_after_hours
    BOUNCED = "bounced"  # 5xx; the address is suppressed
    SKIPPED = "skipped"  # not sent on purpose; skip_reason says why
    UNCERTAIN = "uncertain"  # the worker died mid-send: SMTP may or may not have accepted it


class MessageOutcome(StrEnum):
    """How the report sees a message: handed to the relay and kept, refused, bounced later, or
    skipped because of an exclusion (the report counts no other message)."""

    DELIVERED = "delivered"  # state sent, no bounce event
    BOUNCED = "bounced"  # state bounced: the relay refused it
    BOUNCED_LATER = "bounced_later"  # state sent, then a bounce event
    EXCLUDED = "excluded"  # skipped, skip_reason "excluded..."


class EventKind(StrEnum):
    OPEN = "open"
    CLICK = "click"
    CONTACT_PAGE = "contact_page"
    CONTACT_REQUEST = "contact_request"
    UNSUBSCRIBE_PAGE = "unsubscribe_page"  # the footer link's confirm page was shown
    UNSUBSCRIBE = "unsubscribe"
    BOUNCE = "bounce"
    REPLY = "reply"  # a person answered (also a contact request)
    AUTO_REPLY = "auto_reply"  # out-of-office and other automatic answers: not a request
    COMPLAINT = "complaint"  # a feedback-loop (ARF) spam complaint
    CAMPAIGN_PAUSED = "campaign_paused"  # the brakes paused the campaign (note: why; no contact)


class InboundKind(StrEnum):
    """What a message in the reply/bounce mailbox turned out to be."""

    REPLY = "reply"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"  # permanent delivery failure (5.x.x)
    SOFT_BOUNCE = "soft_bounce"  # transient (4.x.x): suppressed after 3 in 30 days
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    NOTICE = "notice"  # a delivery report that reports no failure: nothing to do
    UNMATCHED = "unmatched"  # names nothing we sent: left for a person


class ReviewStatus(StrEnum):
    """Where a held incoming mail stands on the review list."""

    OPEN = "open"
    APPLIED = "applied"  # a person had it act on a contact
    DISMISSED = "dismissed"  # a person decided it changes nothing


class AlertState(StrEnum):
    QUEUED = "queued"  # waiting for (another) attempt
    SENDING = "sending"  # claimed by a sender until claimed_until
    SENT = "sent"
    FAILED = "failed"  # refused for good (5xx, no rep) or out of attempts


class DraftStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    CANCELLED = "cancelled"


class CampaignAction(StrEnum):
    """What a campaign's audit log records."""

    LAUNCHED = "launched"
    PAUSED = "paused"
    RESUMED = "resumed"


class UserRole(StrEnum):
    OPS = "ops"  # sees and does everything in the web app
    REP = "rep"  # sees the contacts of the accounts whose rep has the same email


class DigestState(StrEnum):
    QUEUED = "queued"  # events claimed; not delivered yet (new, or retrying after a 4xx)
    SENDING = "sending"  # a worker is handing it to the relay (claimed_until is its lease)
    SENT = "sent"
    FAILED = "failed"  # 5xx, or gave up after max_attempts
    EMPTY = "empty"  # a scheduled run found nothing to report; nothing was sent


class SuppressReason(StrEnum):
    UNSUBSCRIBE = "unsubscribe"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    MANUAL = "manual"


class DigestMode(StrEnum):
    SCHEDULED = "scheduled"  # one digest at `hour` on each of `weekdays`, in the rep's time zone
    IMMEDIATE = "immediate"  # one digest per tick that has new engagement
    OFF = "off"  # no digests (engagement stays unclaimed until the rep turns them back on)


class RequestOutcome(StrEnum):
    """How the rep handled a contact request."""

    MEETING_BOOKED = "meeting booked"
    NOT_A_FIT = "not a fit"
    NO_ANSWER = "no answer"


class ThreadMark(StrEnum):
    """Where a rep says a contact's thread went; either ends next-step reminders."""

    MEETING = "meeting"
    OPPORTUNITY = "opportunity"


class UploadState(StrEnum):
    """An exclusion upload or contact import: previewed, applied, or undone as a whole."""

    PREVIEW = "preview"
    APPLIED = "applied"
    REVERTED = "reverted"
