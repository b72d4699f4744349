"""The play's meeting guides (data in the sequence file): what a rep runs after email N.

A sequence lists `[[meetings]]` in order; email N leads to meeting N (the play's rule). Each has a
title, a purpose, the questions to ask, the assets to use (also per priority), the milestones and
the metric that says the meeting worked.
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
    )


def parse_meetings(path: Path, raw: Any) -> tuple[MeetingGuide, ...]:
    """The `[[meetings]]` array of a sequence file; any problem names the file and the field."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SequenceError(f"{path}: meetings must be an array of [[meetings]] tables")
    guides = []
    for index, item in enumerate(raw, 1):
        where = f"{path}: meetings[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("title"), str):
            raise SequenceError(f"{where}.title is missing")
        texts = {k: item.get(k, "") for k in ("purpose", "milestones", "metric")}
        lists = {k: item.get(k, []) for k in ("questions", "assets")}
        priorities = item.get("priorities", {})
        bad = [k for k, v in texts.items() if not isinstance(v, str)]
        bad += [k for k, v in lists.items() if not _strings(v)]
        if not isinstance(priorities, dict) or not all(_strings(v) for v in priorities.values()):
            bad.append("priorities")
        if bad:
            raise SequenceError(f"{where}.{bad[0]} has the wrong type (text, or a list of texts)")
        guides.append(
            MeetingGuide(
                title=item["title"],
                questions=tuple(lists["questions"]),
                assets=tuple(lists["assets"]),
                priorities={str(k): tuple(v) for k, v in priorities.items()},
                **texts,
            )
        )
    return tuple(guides)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
