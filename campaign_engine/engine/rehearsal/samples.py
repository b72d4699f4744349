"""Sample contacts of each segment, persona and channel, and their emails after the simulation."""

from __future__ import annotations

import re
from collections.abc import Sequence as Seq
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import Channel, MessageState
from campaign_engine.engine.rehearsal.findings import Enrolled
from campaign_engine.engine.rehearsal.model import SampleEmail
from campaign_engine.sending.planner import zone
from campaign_engine.sending.sequences import Sequence
from campaign_engine.store.models import Draft, Message

__all__ = ["pick_samples", "sample_emails"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


def pick_samples(people: Seq[Enrolled], sequence: Sequence, per_group: int) -> list[Enrolled]:
    """The first `per_group` contacts (by id) of each (segment, persona, channel)."""
    groups: dict[tuple[str, str, str], list[Enrolled]] = {}
    for person in people:
        key = (person.segment, sequence.persona_for(person.title), person.channel)
        group = groups.setdefault(key, [])
        if len(group) < per_group:
            group.append(person)
    return [person for key in sorted(groups) for person in groups[key]]


def sample_emails(
    session: Session,
    campaign_id: int,
    chosen: Seq[Enrolled],
    sequence: Sequence,
    kept: dict[int, bytes],
    directory: Path,
) -> list[SampleEmail]:
    """The automated emails the sink kept for the sampled contacts (written as .eml files into
    `directory`), and the drafts their reps would get."""
    directory.mkdir(parents=True, exist_ok=True)
    ids = [p.contact_id for p in chosen]
    sent = {
        (contact_id, step): (mid, subject, sent_at)
        for mid, contact_id, step, subject, sent_at in session.connection().execute(
            sa.select(
                col(Message.id),
                col(Message.contact_id),
                col(Message.step),
                col(Message.subject),
                col(Message.sent_at),
            ).where(
                col(Message.campaign_id) == campaign_id,
                col(Message.contact_id).in_(ids),
                col(Message.state) == MessageState.SENT,
            )
        )
    }
    drafts = {
        (contact_id, step): (subject, text)
        for contact_id, step, subject, text in session.exec(
            select(Draft.contact_id, Draft.step, Draft.subject, Draft.body_text).where(
                Draft.campaign_id == campaign_id, col(Draft.contact_id).in_(ids)
            )
        ).all()
    }
    samples = []
    for person in chosen:
        persona = sequence.persona_for(person.title)
        for step in sequence.steps:
            key = (person.contact_id, step.number)
            who = (person.segment, persona, person.channel, person.email, step.number)
            if person.channel == Channel.REP and key in drafts:
                subject, text = drafts[key]
                samples.append(SampleEmail(*who, subject, text=text))
            elif key in sent and sent[key][0] in kept:
                mid, subject, sent_at = sent[key]
                assert mid is not None and sent_at is not None
                name = _UNSAFE.sub("_", f"{person.email}-email{step.number}.eml")
                (directory / name).write_bytes(kept[mid])
                local = sent_at.astimezone(zone(person.zone)).strftime("%Y-%m-%d %H:%M")
                samples.append(SampleEmail(*who, subject, local, eml=name))
    return samples
