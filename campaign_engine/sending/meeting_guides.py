"""The play's meeting guides (data in the sequence file): what a rep runs after email N.

A sequence lists `[[meetings]]` in order; email N leads to meeting N (the play's rule). Each has a
title, a purpose, the questions to ask, the assets to use (also per priority), the people to
bring, the ROI options, the next steps (demos, workshop, POV), the POV agreement steps, the
milestones and the metric that says the meeting worked. The sequence's `milestones_checklist`
(the play's "Measuring progress") travels with every guide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from campaign_engine.core.errors import SequenceError

__all__ = ["MeetingGuide", "guide_from_dict", "parse_meetings"]


@dataclass(frozen=True)
class MeetingGuide:
    title: str  # "Meeting 1 - assess business objectives"
    purpose: str = ""
    questions: tuple[str, ...] = ()
    assets: tuple[str, ...] = ()  # "name: url" or a name alone (asset coming soon)
    priorities: dict[str, tuple[str, ...]] = field(default_factory=dict)  # priority -> assets
    milestones: str = ""
    metric: str = ""
    people: tuple[str, ...] = ()  # who to bring or ask (the SA, product managers...)
    roi: tuple[str, ...] = ()  # the ROI options (a more detailed model, if needed)
    next_steps: tuple[str, ...] = ()  # what may follow: demos, a workshop, a POV
    pov_steps: tuple[str, ...] = ()  # the POV agreement, step by step
    checklist: tuple[str, ...] = ()  # the play's milestones checklist


def guide_from_dict(data: dict[str, Any]) -> MeetingGuide:
    """From a snapshot (asdict), where tuples came back as lists."""
    return MeetingGuide(
        title=data["title"],
        purpose=data.get("purpose", ""),
        questions=tuple(data.get("questions", ())),
        assets=tuple(data.get("assets", ())),
        priorities={k: tuple(v) for k, v in data.get("priorities", {}).items()},
        milestones=data.get("milestones", ""),
        metric=data.get("metric", ""),
        **{key: tuple(data.get(key, ())) for key in (*_MORE_LISTS, "checklist")},
    )


_MORE_LISTS = ("people", "roi", "next_steps", "pov_steps")
_LISTS = ("questions", "assets", *_MORE_LISTS)
_KEYS = {"title", "purpose", "milestones", "metric", "priorities", *_LISTS}


def parse_meetings(path: Path, raw: Any, checklist: Any = None) -> tuple[MeetingGuide, ...]:
    """The `[[meetings]]` array of a sequence file, each with the sequence's
    `milestones_checklist`; any problem names the file and the field."""
    if checklist is not None and not _strings(checklist):
        raise SequenceError(f"{path}: milestones_checklist must be a list of texts")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SequenceError(f"{path}: meetings must be an array of [[meetings]] tables")
    guides = []
    for index, item in enumerate(raw, 1):
        where = f"{path}: meetings[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("title"), str):
            raise SequenceError(f"{where}.title is missing")
        unknown = sorted(set(item) - _KEYS)
        if unknown:
            raise SequenceError(f"{where}: unknown key {unknown[0]!r}")
        texts = {k: item.get(k, "") for k in ("purpose", "milestones", "metric")}
        lists = {k: item.get(k, []) for k in _LISTS}
        priorities = item.get("priorities", {})
        bad = [k for k, v in texts.items() if not isinstance(v, str)]
        bad += [k for k, v in lists.items() if not _strings(v)]
        if not isinstance(priorities, dict) or not all(_strings(v) for v in priorities.values()):
            bad.append("priorities")
        if bad:
            raise SequenceError(f"{where}.{bad[0]} has the wrong type (text, or a list of texts)")
        guides.append(guide_from_dict({**item, "checklist": checklist or []}))
    return tuple(guides)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
