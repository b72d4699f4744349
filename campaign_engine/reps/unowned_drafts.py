"""Drafts no rep can send: the rep channel's open drafts at accounts no rep owns.

A draft goes out from its account's rep, so while an account has none its contacts get nothing
from the campaign. Ops see these drafts in `campaign status` and on the console's Unassigned
page, and the unassigned fallback (`[reps] unassigned_to`, else the console's ops users) is
emailed when a launch or a late joiner creates them: which accounts, and how to give each a
rep. The drafts move to the rep with the account (drafts follow the account's current rep).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from html import escape

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import DraftStatus
from campaign_engine.reps.alerts import queue_alert
from campaign_engine.reps.rep_view import assign_command
from campaign_engine.reps.request_alerts import UNASSIGNED_PATH, fallback_recipients
from campaign_engine.store.bulk import among
from campaign_engine.store.models import Account, Campaign, Contact, Draft

__all__ = [
    "DRAFTS_WITHOUT_REP",
    "LISTED",
    "WaitingAccount",
    "alert_unowned",
    "handed_over",
    "listed",
    "status_line",
    "waiting",
]

DRAFTS_WITHOUT_REP = "drafts_without_rep"  # the alert's kind (X-Campaign-Alert)
LISTED = 50  # accounts with drafts named one by one (the alert, the launch, the Unassigned page)
_DRAFTS: sa.Table = Draft.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class WaitingAccount:
    """An account no rep owns, and the open drafts of its contacts."""

    account: str
    owner_email: str  # the owner its import named, who is not a rep yet ("" when none)
    contacts: int
    drafts: int

    @property
    def line(self) -> str:
        named = f" (the import named {self.owner_email}, not a rep yet)" if self.owner_email else ""
        return f"{self.account}{named}: {self.contacts} contact(s), {self.drafts} draft(s)"


def listed(accounts: list[WaitingAccount]) -> list[str]:
    """The accounts' lines, the first LISTED of them, then how many more there are."""
    lines = [a.line for a in accounts[:LISTED]]
    if len(accounts) > LISTED:
        lines.append(
            f"... and {len(accounts) - LISTED} more account(s): the console's Unassigned page"
            " lists them all"
        )
    return lines


def waiting(
    session: Session, draft_ids: Collection[int] | None = None, account: str | None = None
) -> list[WaitingAccount]:
    """Accounts no rep owns with open drafts (only among `draft_ids`, or only `account`, when
    given), by name."""
    query = (
        select(
            Account.name,
            Account.owner_email,
            sa.func.count(sa.distinct(_DRAFTS.c.contact_id)),
            sa.func.count(col(Draft.id)),
        )
        .select_from(Draft)
        .join(Contact, col(Contact.id) == Draft.contact_id)
        .join(Account, col(Account.id) == Contact.account_id)
        .where(Draft.status == DraftStatus.DRAFT, col(Account.rep_id).is_(None))
        .group_by(col(Account.id), col(Account.name), col(Account.owner_email))
        .order_by(col(Account.name))
    )
    if account is not None:
        query = query.where(Account.name == account.strip())
    if draft_ids is not None:
        query = query.where(among(session.connection(), _DRAFTS.c.id, draft_ids))
    return [WaitingAccount(name, owner or "", contacts, drafts)
            for name, owner, contacts, drafts in session.exec(query)]  # fmt: skip


def handed_over(accounts: list[WaitingAccount], rep_email: str) -> str:
    """What an assignment did with the account's waiting drafts ("" when it had none)."""
    return "".join(
        f" {a.drafts} draft(s) for {a.contacts} contact(s) are now in {rep_email}'s drafts."
        for a in accounts
    )


def status_line(accounts: list[WaitingAccount]) -> str:
    """`campaign status`'s line: how many drafts wait for a rep, and where to act."""
    if not accounts:
        return "Drafts waiting for a rep: 0"
    drafts = sum(a.drafts for a in accounts)
    contacts = sum(a.contacts for a in accounts)
    return (
        f"Drafts waiting for a rep: {drafts} for {contacts} contact(s) at {len(accounts)}"
        " account(s) no rep owns (the console's Unassigned page; `campaign accounts assign`)"
    )


def alert_unowned(
    session: Session, settings: Settings, campaign: Campaign, drafts: list[Draft], now: datetime
) -> list[WaitingAccount]:
    """Email the fallback (in the caller's transaction) about the `drafts` just created that no
    rep can send; returns their accounts (none: every draft has a rep, nothing is sent)."""
    ids = [d.id for d in drafts if d.rep_id is None and d.id is not None]
    accounts = waiting(session, ids) if ids else []
    if not accounts:
        return []
    console = settings.tracking_base_url.rstrip("/") + UNASSIGNED_PATH
    contacts = sum(a.contacts for a in accounts)
    intro = (
        f"Campaign {campaign.name} wrote drafts for {contacts} contact(s) at"
        f" {len(accounts)} account(s) no rep owns. A draft goes out from the account's rep, so"
        " these contacts get nothing from the campaign until their account has one; the drafts"
        " then move to that rep."
    )
    how = "Give each account a rep on the console's Unassigned page, or with:"
    lines, commands = listed(accounts), [assign_command(a.account) for a in accounts[:LISTED]]
    text = "\n".join([intro, "", *(f"  {line}" for line in lines), "", how, *commands, "", console])
    html = (
        f"<p>{escape(intro)}</p><ul>"
        + "".join(f"<li>{escape(line)}</li>" for line in lines)
        + f'</ul><p>Give each account a rep on the console\'s <a href="{escape(console)}">'
        "Unassigned page</a>, or with:</p>"
        + "".join(f"<pre>{escape(command)}</pre>" for command in commands)
    )
    subject = f"Drafts waiting for a rep: {contacts} contact(s) in {campaign.name}"
    recipients = fallback_recipients(session, settings) or [""]  # "": failed, nobody to tell
    for recipient in recipients:
        queue_alert(session, kind=DRAFTS_WITHOUT_REP, rep_id=None, recipient=recipient,
                    contact_id=None, subject=subject, text=text + "\n", html=html, reply_to="",
                    now=now)  # fmt: skip
    return accounts
