from zoneinfo import available_timezones

import pytest

from campaign_engine.audience.region_zones import REGION_ZONES
from campaign_engine.audience.timezones import country_code, parse_timezone, zone_for


def test_every_zone_of_the_region_table_exists_in_the_tz_database() -> None:
    known = available_timezones()
    for country, regions in REGION_ZONES.items():
        assert country in ("US", "CA", "AU", "BR", "MX", "RU")
        assert {zone for zone in regions.values() if zone not in known} == set(), country


@pytest.mark.parametrize(
    ("country", "region", "zone"),
    [
        ("United States", "CA", "America/Los_Angeles"),
        ("USA", "New York", "America/New_York"),
        ("US", "US-TX", "America/Chicago"),
        ("Canada", "Quebec", "America/Toronto"),
        ("Australia", "WA", "Australia/Perth"),
        ("Brazil", "São Paulo", "America/Sao_Paulo"),
        ("Mexico", "Jalisco", "America/Mexico_City"),
        ("Russia", "Novosibirsk Oblast", "Asia/Novosibirsk"),
        ("Germany", "", "Europe/Berlin"),
        ("DE", "Bavaria", "Europe/Berlin"),
        ("India", "", "Asia/Kolkata"),
        ("Japan", "", "Asia/Tokyo"),
        ("New Zealand", "", "Pacific/Auckland"),
        ("Spain", "", "Europe/Madrid"),
        ("United Kingdom", "", "Europe/London"),
        ("China", "", "Asia/Shanghai"),
        ("Ukraine", "", "Europe/Kyiv"),
        ("US", "", ""),  # several zones, no state: not derivable
        ("Canada", "Atlantis", ""),
    ],
)
def test_zone_from_country_and_region(country: str, region: str, zone: str) -> None:
    assert zone_for(country_code(country), region) == zone


def test_unknown_names_are_refused() -> None:
    assert parse_timezone(" europe/berlin ") == "Europe/Berlin"
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        parse_timezone("Mars/Olympus")
    with pytest.raises(ValueError, match="unknown country 'Narnia'"):
        country_code("Narnia")
