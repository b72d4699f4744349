"""The return date an out-of-office message states, in English, German, French or Spanish (PURE)."""

from __future__ import annotations

import re
from datetime import date

__all__ = ["return_date"]

_MONTHS = {
    **dict.fromkeys(["january", "jan", "januar", "janvier", "enero", "jänner"], 1),
    **dict.fromkeys(["february", "feb", "februar", "février", "fevrier", "febrero"], 2),
    **dict.fromkeys(["march", "mar", "märz", "maerz", "mars", "marzo"], 3),
    **dict.fromkeys(["april", "apr", "avril", "abril"], 4),
    **dict.fromkeys(["may", "mai", "mayo"], 5),
    **dict.fromkeys(["june", "jun", "juni", "juin", "junio"], 6),
    **dict.fromkeys(["july", "jul", "juli", "juillet", "julio"], 7),
    **dict.fromkeys(["august", "aug", "août", "aout", "agosto"], 8),
    **dict.fromkeys(["september", "sep", "sept", "septembre", "septiembre"], 9),
    **dict.fromkeys(["october", "oct", "oktober", "octobre", "octubre"], 10),
    **dict.fromkeys(["november", "nov", "novembre", "noviembre"], 11),
    **dict.fromkeys(["december", "dec", "dezember", "décembre", "decembre", "diciembre"], 12),
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
# Words that introduce the return ("back on", "zurück am", "de retour le"...), then "until",
# whose date may be the last day away.
_CUES = [
    re.compile(
        r"\b(back|return(ing)?|returns|zurück|ab|wieder|retour|reviens|regreso|regresaré|volveré)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\b(until|till|bis|jusqu'au|jusqu’au|hasta)\b", re.IGNORECASE),
]
_PATTERNS = [
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), ("y", "m", "d")),
    (re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b"), ("d", "m", "y")),
    (
        re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th|er)?\.?\s+({_MONTH})\.?,?\s+(\d{{4}})", re.I),
        ("d", "M", "y"),
    ),
    (
        re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})", re.I),
        ("M", "d", "y"),
    ),
    (re.compile(rf"\b(\d{{1,2}})\s+de\s+({_MONTH})\s+de\s+(\d{{4}})", re.I), ("d", "M", "y")),
]


def return_date(text: str) -> str:
    """'2021-05-10' for 'I am back on May 10, 2021' (and the like); '' when none is stated.

    Tried in order: a date after a return cue ("back on", "zurück am"); one just before it, as
    German and French put it ("am 10.05.2021 wieder im Büro"); one after "until".
    """
    back, until = _CUES
    tries = [
        *((m.end(), m.end() + 60, False) for m in back.finditer(text)),
        *((max(0, m.start() - 30), m.start(), True) for m in back.finditer(text)),
        *((m.end(), m.end() + 60, False) for m in until.finditer(text)),
    ]
    for start, end, nearest_end in tries:
        found = _first_date(text[start:end], last=nearest_end)
        if found:
            return found.isoformat()
    return ""


def _first_date(text: str, last: bool = False) -> date | None:
    """The first date stated in `text` (or, with `last`, the one nearest its end)."""
    best: tuple[int, date] | None = None
    for pattern, order in _PATTERNS:
        match = pattern.search(text)
        if match is None:
            continue
        parts = dict(zip(order, match.groups(), strict=True))
        try:
            month = _MONTHS[parts["M"].lower()] if "M" in parts else int(parts["m"])
            found = date(int(parts["y"]), month, int(parts["d"]))
        except (ValueError, KeyError):
            continue
        if best is None or (match.start() > best[0] if last else match.start() < best[0]):
            best = (match.start(), found)
    return best[1] if best else None
