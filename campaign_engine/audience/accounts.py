"""Who owns an account: giving it a rep is an explicit, logged act (an import only fills an
account that has no rep yet; it never replaces one)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from campaign_engine.core.errors import NotFound
from campaign_engine.store.account_tables import AccountAssignment
from campaign_engine.store.bulk import insert_rows
from campaign_engine.store.models import Account, Rep

__all__ = ["Assignment", "Handover", "assign_account", "log_handovers", "record_assignment"]

log = logging.getLogger(__name__)
_ASSIGNMENTS: sa.Table = AccountAssignment.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Assignment:
    """What `assign_account` did."""

    account: str
    rep_email: str
    previous_rep_email: str  # "" when the account had no rep
    changed: bool  # False when the rep already owned the account

    def sentence(self) -> str:
        if not self.changed:
            return f"{self.account} is already owned by {self.rep_email}: nothing changed."
        before = f"was {self.previous_rep_email}" if self.previous_rep_email else "had no rep"
        return f"{self.account} is now owned by {self.rep_email} ({before})."


@dataclass(frozen=True)
class Handover:
    """An account given to a rep, as the assignment log records it."""

    account_id: int
    account: str
    rep_id: int
    rep_email: str
    previous_rep_id: int | None
    actor: str


def log_handovers(connection: sa.Connection, handovers: Sequence[Handover], now: datetime) -> None:
    """Append the handovers to the assignment log (in the caller's transaction, which sets the
    accounts' rep)."""
    rows = [
        {"account_id": h.account_id, "rep_id": h.rep_id, "previous_rep_id": h.previous_rep_id,
         "actor": h.actor, "at": now}
        for h in handovers
    ]  # fmt: skip
    insert_rows(connection, _ASSIGNMENTS, rows)
    for h in handovers:
        log.info("account %r assigned to %s by %s", h.account, h.rep_email, h.actor)


def record_assignment(
    session: Session, account: Account, rep: Rep, actor: str, now: datetime
) -> None:
    """Give `account` to `rep` and log it (in the caller's transaction)."""
    assert account.id is not None and rep.id is not None
    handover = Handover(account.id, account.name, rep.id, rep.email, account.rep_id, actor)
    log_handovers(session.connection(), [handover], now)
    account.rep_id, account.owner_email = rep.id, rep.email
    session.add(account)


def assign_account(
    session: Session, account_name: str, rep_email: str, actor: str, now: datetime
) -> Assignment:
    """Make REP the owner of ACCOUNT (both must exist); logged with `actor`."""
    account = session.exec(select(Account).where(Account.name == account_name.strip())).first()
    if account is None:
        raise NotFound(f"no account named {account_name!r}; names are as in the contacts file")
    email = rep_email.strip().lower()
    rep = session.exec(select(Rep).where(Rep.email == email)).first()
    if rep is None:
        raise NotFound(f"no rep with email {email!r}; add them with `campaign import reps FILE`")
    previous = session.get(Rep, account.rep_id) if account.rep_id else None
    if previous is not None and previous.id == rep.id:
        return Assignment(account.name, rep.email, rep.email, changed=False)
    record_assignment(session, account, rep, actor, now)
    session.flush()
    return Assignment(account.name, rep.email, previous.email if previous else "", changed=True)
