"""When a campaign must stop itself: hard-bounce and complaint rates over its last sends (PURE).

A rate is a count over the sends of a sliding window (the last `window` sends); it is taken
over at least `min_sends`, so the first bounce of a campaign is not a 100% rate, while a
burst of bounces in its very first sends still pauses it. A rate at or above its limit pauses;
above half of it, it is a warning. The defaults come from the receivers' own rules: Gmail and
Yahoo require bulk senders to keep complaints below 0.3%; Amazon SES reviews an account at a
5% bounce rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from campaign_engine.core.config import Settings

__all__ = ["BrakeLimits", "Level", "Reading", "Tally", "judge", "percent"]


class Level(IntEnum):
    """How a window stands; the /metrics value too."""

    OK = 0
    WARNING = 1  # a rate above half its limit
    PAUSE = 2  # a rate at or above its limit


@dataclass(frozen=True)
class BrakeLimits:
    window: int = 500  # the last N sends judged
    min_sends: int = 100  # rates are taken over at least this many sends
    bounce_rate: float = 0.05  # hard bounces per send that pause; 0: never
    complaint_rate: float = 0.003  # spam complaints per send that pause; 0: never

    @classmethod
    def from_settings(cls, settings: Settings) -> BrakeLimits:
        brakes = settings.brakes
        return cls(
            brakes.window, brakes.min_sends, brakes.bounce_pause_rate, brakes.complaint_pause_rate
        )


@dataclass(frozen=True)
class Tally:
    """What a window holds: its sends, and how many of them bounced hard or were complained of."""

    sends: int
    bounces: int = 0
    complaints: int = 0


@dataclass(frozen=True)
class Reading:
    """A window judged: its level, and in one line why (empty when OK)."""

    level: Level
    reason: str = ""
    bounce_rate: float = 0.0
    complaint_rate: float = 0.0


_WHAT = {"bounce": "hard bounce", "complaint": "spam complaint"}
_CHECK = {
    "bounce": "check the list source",
    "complaint": "check who is mailed and what they are sent",
}


def percent(rate: float) -> str:
    """0.054 -> '5.4%', 0.003 -> '0.3%'.

    >>> percent(0.05), percent(0.0033)
    ('5%', '0.33%')
    """
    return f"{rate * 100:.3g}%"


def judge(tally: Tally, limits: BrakeLimits, where: str = "") -> Reading:
    """The window's level; `where` names it in the reason (" from example.com").

    >>> judge(Tally(500, bounces=27), BrakeLimits()).reason
    '27 hard bounces in the last 500 sends (5.4% ≥ 5%) — check the list source'
    """
    over = max(tally.sends, limits.min_sends, 1)
    rates = {"bounce": tally.bounces / over, "complaint": tally.complaints / over}
    counts = {"bounce": tally.bounces, "complaint": tally.complaints}
    caps = {"bounce": limits.bounce_rate, "complaint": limits.complaint_rate}
    level, reason = Level.OK, ""
    for kind in ("bounce", "complaint"):
        rate, cap = rates[kind], caps[kind]
        if cap <= 0 or counts[kind] == 0:
            continue
        if rate >= cap:
            found = Level.PAUSE
        elif rate > cap / 2:
            found = Level.WARNING
        else:
            continue
        if found > level:
            level, reason = found, _reason(kind, counts[kind], tally.sends, over, rate, cap, where)
            reason += f" — {_CHECK[kind]}" if found == Level.PAUSE else ""
    return Reading(level, reason, rates["bounce"], rates["complaint"])


def _reason(
    kind: str, count: int, sends: int, over: int, rate: float, cap: float, where: str
) -> str:
    noun = _WHAT[kind] + ("s" if count != 1 else "")
    taken = f" of the minimum {over}" if over > sends else ""
    compare = f"≥ {percent(cap)}" if rate >= cap else f"pauses at {percent(cap)}"
    return f"{count} {noun} in the last {sends} sends{where} ({percent(rate)}{taken} {compare})"
