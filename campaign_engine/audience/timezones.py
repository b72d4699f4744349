"""A contact's time zone: an IANA name from the CSV, or derived from country (and region).

The data is the tz database's own tables (`zone.tab`: country -> zones; `iso3166.tab`: country
names) as shipped by the `tzdata` package, so it is as current as that package. The rule for a
country without an explicit zone:

1. a region (state, province) of a country that spans several zones: the region table
   (`region_zones.py`);
2. a country with one zone in zone.tab: that zone;
3. a country of the region table with no (known) region: not derivable (the account's other
   contacts, else the campaign's zone, are used at enrolment);
4. another country with several zones: the one zone.tab marks "most ..." or "mainland" (Germany
   -> Europe/Berlin, Spain -> Europe/Madrid), else the first one it lists (China ->
   Asia/Shanghai, Indonesia -> Asia/Jakarta).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources
from zoneinfo import available_timezones

from campaign_engine.audience.region_zones import REGION_ZONES

__all__ = ["country_code", "parse_timezone", "zone_for"]

_COUNTRY_ALIASES = {
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u.k.": "GB",
    "united kingdom": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "south korea": "KR",
    "korea": "KR",
    "russian federation": "RU",
    "czech republic": "CZ",
    "the netherlands": "NL",
    "holland": "NL",
    "uae": "AE",
    "deutschland": "DE",
    "brasil": "BR",
    "méxico": "MX",
    "mexico": "MX",
}


def _tab(name: str) -> list[list[str]]:
    text = resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@cache
def _zones_by_name() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


@cache
def _country_zones() -> dict[str, list[tuple[str, str]]]:
    """Country code -> [(zone, zone.tab comment)] in zone.tab's order."""
    zones: dict[str, list[tuple[str, str]]] = {}
    for row in _tab("zone.tab"):
        zones.setdefault(row[0], []).append((row[2], row[3] if len(row) > 3 else ""))
    return zones


@cache
def _country_names() -> dict[str, str]:
    names = {}
    for code, name in _tab("iso3166.tab"):
        names[_key(name)] = code
        names[_key(re.sub(r"\s*\(.*\)", "", name))] = code  # "Britain (UK)" -> "britain"
        names[code.lower()] = code
    names.update((_key(alias), code) for alias, code in _COUNTRY_ALIASES.items())
    return names


def _key(text: str) -> str:
    """Lower case, no accents, '&' as 'and', single spaces: 'São Paulo' -> 'sao paulo'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(plain.replace("&", "and").lower().split())


def parse_timezone(value: str) -> str:
    """The canonical IANA name ('europe/berlin' -> 'Europe/Berlin'), or ValueError."""
    cleaned = value.strip()
    if not cleaned:
        return ""
    name = _zones_by_name().get(cleaned.lower())
    if name is None:
        raise ValueError(
            f"unknown time zone {cleaned!r} (use an IANA name like Europe/Berlin or America/New_York)"
        )
    return name


def country_code(value: str) -> str:
    """ISO 3166 alpha-2 code from a code or an English name ('Germany', 'USA'), or ValueError."""
    cleaned = value.strip()
    if not cleaned:
        return ""
    code = _country_names().get(_key(cleaned))
    if code is None:
        raise ValueError(f"unknown country {cleaned!r} (use a name or an ISO code like DE or US)")
    return code


def zone_for(country: str, region: str = "") -> str:
    """The zone of a country code and optional region, per the rule above; '' if not derivable."""
    regions = REGION_ZONES.get(country)
    if regions is not None:
        key = _key(region)
        if "-" in key and key.split("-", 1)[0] == country.lower():
            key = key.split("-", 1)[1]  # ISO 3166-2 "US-CA"
        return regions.get(key, "")
    zones = _country_zones().get(country, [])
    if len(zones) <= 1:
        return zones[0][0] if zones else ""
    principal = [z for z, note in zones if re.search(r"\bmost\b|mainland", note, re.I)]
    return principal[0] if len(principal) == 1 else zones[0][0]
