"""Load and validate sequences/*.toml into plain frozen dataclasses."""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from campaign_engine.audience.segments import (
    DEFAULT_PERSONA_TABLE,
    DEFAULT_ROLE_TABLE,
    PERSONAS,
    PersonaRule,
    PersonaTable,
    expand_segments,
    persona_table_from,
    role_table_from,
)
from campaign_engine.core.errors import SequenceError
from campaign_engine.sending.meeting_guides import MeetingGuide, guide_from_dict, parse_meetings
from campaign_engine.sending.planner import parse_send_days

__all__ = [
    "PERSONAS",
    "SNAPSHOT_FORMAT",
    "Offer",
    "Sequence",
    "Step",
    "deadline_before",
    "load_sequence",
    "with_utm",
]

# The shape of the sequence snapshot frozen into each campaign (Campaign.sequence_json); bump it
# (and teach from_json the old shape) when the dataclasses below change.
# 2: send_days, meeting guides per step (format 1 reads with neither); 3: the persona table
# (formats 1 and 2 read with the shipped one, which is what they were rendered with).
SNAPSHOT_FORMAT = 3
ANY_PERSONA = "any"


@dataclass(frozen=True)
class Offer:
    """An asset a step promotes; url already carries the sequence's UTM parameters."""

    name: str
    url: str
    persona: str = ANY_PERSONA
    description: str = ""


@dataclass(frozen=True)
class Step:
    """One email of the sequence, sent `day` days after the campaign start."""

    number: int
    day: int
    subject: str
    template: str
    cta: str = ""
    meeting: str = ""
    offers: tuple[Offer, ...] = ()
    guide: MeetingGuide | None = None  # the play's guide for the meeting this email leads to

    def offer_for(self, persona: str) -> Offer | None:
        """The offer for this persona, else the one meant for anybody, else None."""
        for wanted in (persona, ANY_PERSONA):
            for offer in self.offers:
                if offer.persona == wanted:
                    return offer
        return self.offers[0] if self.offers else None


@dataclass(frozen=True)
class Sequence:
    """A named series of steps; `automated_segments` get it on schedule, others via their rep."""

    key: str
    name: str
    templates: str
    steps: tuple[Step, ...]
    description: str = ""
    automated_segments: tuple[str, ...] = ("SMB",)
    utm: dict[str, str] = field(default_factory=dict)
    send_days: str = ""  # weekdays steps may go out on ("mon-fri"); "" = every day
    personas: PersonaTable = DEFAULT_PERSONA_TABLE  # who gets which persona's offer, by title
    roles: PersonaTable = DEFAULT_ROLE_TABLE  # economic buyer, technical influencer or other
    exclusion_deadline: str = ""  # "friday before launch": the campaign's default deadline

    def persona_for(self, title: str) -> str:
        """The persona this sequence's [personas] table gives a job title."""
        return self.personas.persona_for(title)

    def role_for(self, title: str) -> str:
        """The buying role this sequence's [roles] table gives a job title."""
        return self.roles.persona_for(title)

    def step(self, number: int) -> Step:
        return self.steps[number - 1]

    def to_json(self) -> str:
        return json.dumps({"format": SNAPSHOT_FORMAT, **asdict(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Sequence:
        data = json.loads(text)
        version = data.pop("format", 1)  # snapshots written before versioning are format 1
        if version not in (1, 2, SNAPSHOT_FORMAT):
            raise SequenceError(
                f"this campaign's sequence snapshot is format {version}; this version of the"
                f" engine reads format {SNAPSHOT_FORMAT}: upgrade campaign-engine"
            )
        steps = tuple(
            Step(
                **{
                    **step,
                    "offers": tuple(Offer(**offer) for offer in step["offers"]),
                    "guide": guide_from_dict(step["guide"]) if step.get("guide") else None,
                }
            )
            for step in data.pop("steps")
        )
        data["automated_segments"] = expand_segments(data["automated_segments"])
        personas = _table_from_json(data.pop("personas", None), DEFAULT_PERSONA_TABLE)
        roles = _table_from_json(data.pop("roles", None), DEFAULT_ROLE_TABLE)
        return cls(steps=steps, personas=personas, roles=roles, **data)


def _table_from_json(table: dict[str, Any] | None, default: PersonaTable) -> PersonaTable:
    """A title table of a snapshot (as `asdict` wrote it); `default` for older snapshots."""
    if table is None:
        return default
    return PersonaTable(
        rules=tuple(PersonaRule(rule["persona"], tuple(rule["words"])) for rule in table["rules"]),
        default=table["default"],
    )


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def with_utm(url: str, utm: dict[str, str]) -> str:
    """Add UTM parameters the URL does not already carry; its own values win."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    query += [(key, value) for key, value in utm.items() if key not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))


def load_sequence(sequences_dir: Path, key: str) -> Sequence:
    """Read sequences/KEY.toml; any problem raises SequenceError naming the file and field."""
    path = sequences_dir / f"{key}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in sequences_dir.glob("*.toml"))) or "none"
        raise SequenceError(f"{path}: no such sequence (known: {known})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SequenceError(f"{path}: {exc}") from exc
    return _parse(path, key, data)


def _parse(path: Path, key: str, data: dict[str, Any]) -> Sequence:
    reader = _Reader(path)
    utm = reader.table(data, "utm", required=False)
    utm = {str(k): reader.text(utm, k, where="utm") for k in utm}
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise SequenceError(f"{path}: 'steps' must be a non-empty array of [[steps]] tables")
    guides = parse_meetings(path, data.get("meetings"), data.get("milestones_checklist"))
    steps = tuple(
        _parse_step(reader, number, raw, utm, guides[number - 1] if number <= len(guides) else None)
        for number, raw in enumerate(raw_steps, 1)
    )
    days = [step.day for step in steps]
    if days != sorted(days):
        raise SequenceError(f"{path}: steps must be in day order, got days {days}")
    segments = data.get("automated_segments", ["SMB"])
    try:
        if not isinstance(segments, list) or not all(isinstance(s, str) for s in segments):
            raise ValueError("not a list")
        segments = expand_segments(segments)
    except ValueError:
        raise SequenceError(
            f"{path}: automated_segments must list SMB, MM, Large, Strategic (or ENT for both)"
        ) from None
    send_days = reader.text(data, "send_days", required=False)
    try:
        parse_send_days(send_days)
    except ValueError as exc:
        raise SequenceError(f"{path}: {exc}") from None
    deadline = reader.text(data, "exclusion_deadline", required=False)
    try:
        _deadline_weekday(deadline)
    except ValueError as exc:
        raise SequenceError(f"{path}: exclusion_deadline: {exc}") from None
    try:
        personas = persona_table_from(data["personas"]) if "personas" in data else None
        roles = role_table_from(data["roles"]) if "roles" in data else None
    except ValueError as exc:
        raise SequenceError(f"{path}: {exc}") from None
    return Sequence(
        personas=personas or DEFAULT_PERSONA_TABLE,
        roles=roles or DEFAULT_ROLE_TABLE,
        key=key,
        send_days=send_days,
        name=reader.text(data, "name"),
        description=reader.text(data, "description", required=False),
        templates=reader.text(data, "templates", required=False) or key,
        automated_segments=tuple(segments),
        utm=utm,
        steps=steps,
        exclusion_deadline=deadline,
    )


def deadline_before(rule: str, start: date) -> date | None:
    """The exclusion deadline a sequence's rule gives a campaign starting on `start` (None
    without a rule); ValueError for a rule that is not "WEEKDAY before launch".

    >>> deadline_before("Friday before launch", date(2021, 4, 27))
    datetime.date(2021, 4, 23)
    >>> deadline_before("friday before launch", date(2021, 4, 30))  # a Friday: the one before
    datetime.date(2021, 4, 23)
    """
    weekday = _deadline_weekday(rule)
    if weekday is None:
        return None
    return start - timedelta(days=(start.weekday() - weekday - 1) % 7 + 1)


def _deadline_weekday(rule: str) -> int | None:
    if not rule.strip():
        return None
    words = rule.lower().split()
    if len(words) != 3 or words[0] not in _WEEKDAYS or words[1:] != ["before", "launch"]:
        raise ValueError(f"{rule!r} is not a rule such as 'friday before launch'")
    return _WEEKDAYS.index(words[0])


def _parse_step(
    reader: _Reader, number: int, raw: Any, utm: dict[str, str], guide: MeetingGuide | None
) -> Step:
    where = f"steps[{number}]"
    if not isinstance(raw, dict):
        raise SequenceError(f"{reader.path}: {where} must be a table")
    offers = []
    for index, offer in enumerate(raw.get("offers", []), 1):
        owhere = f"{where}.offers[{index}]"
        persona = reader.text(offer, "persona", where=owhere, required=False) or ANY_PERSONA
        if persona not in (*PERSONAS, ANY_PERSONA):
            raise SequenceError(
                f"{reader.path}: {owhere}.persona must be practitioner, management or any"
            )
        url = reader.text(offer, "url", where=owhere)
        if not url.startswith(("https://", "http://")):
            raise SequenceError(f"{reader.path}: {owhere}.url must be an http(s) URL, got {url!r}")
        content = reader.text(offer, "utm_content", where=owhere, required=False)
        tagged = offer.get("utm", True)  # false: a third-party URL keeps only the play's params
        if not isinstance(tagged, bool):
            raise SequenceError(f"{reader.path}: {owhere}.utm must be true or false")
        params = {**utm, **({"utm_content": content} if content else {})} if tagged else {}
        offers.append(
            Offer(
                name=reader.text(offer, "name", where=owhere),
                url=with_utm(url, params) if params else url,
                persona=persona,
                description=reader.text(offer, "description", where=owhere, required=False),
            )
        )
    day = raw.get("day")
    if not isinstance(day, int) or isinstance(day, bool) or day < 0:
        raise SequenceError(f"{reader.path}: {where}.day must be a whole number of days >= 0")
    return Step(
        number=number,
        day=day,
        subject=reader.text(raw, "subject", where=where),
        template=reader.text(raw, "template", where=where, required=False) or f"email{number}",
        cta=reader.text(raw, "cta", where=where, required=False),
        meeting=reader.text(raw, "meeting", where=where, required=False),
        offers=tuple(offers),
        guide=guide,
    )


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def text(self, data: dict[str, Any], key: str, where: str = "", required: bool = True) -> str:
        value = data.get(key)
        name = f"{where}.{key}" if where else key
        if value is None:
            if required:
                raise SequenceError(f"{self.path}: {name} is missing")
            return ""
        if not isinstance(value, str):
            raise SequenceError(f"{self.path}: {name} must be a string")
        if "\r" in value or ("\n" in value and key == "subject"):
            raise SequenceError(f"{self.path}: {name} must be a single line")
        return value

    def table(self, data: dict[str, Any], key: str, required: bool = True) -> dict[str, Any]:
        value = data.get(key, None if required else {})
        if not isinstance(value, dict):
            raise SequenceError(f"{self.path}: {key} must be a table")
        return value
