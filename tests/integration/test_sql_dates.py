"""`local_date` gives the same calendar day on SQLite (zoneinfo) and PostgreSQL (its own tz data)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from campaign_engine.store.db import Database
from campaign_engine.store.models import UTCDateTime
from campaign_engine.store.sql_dates import local_date


def test_local_date_follows_each_zone_and_dst(db: Database) -> None:
    cases = [
        (datetime(2021, 4, 27, 14, 59, tzinfo=UTC), "Asia/Tokyo", date(2021, 4, 27)),
        (datetime(2021, 4, 27, 15, 0, tzinfo=UTC), "Asia/Tokyo", date(2021, 4, 28)),
        (datetime(2021, 4, 27, 18, 29, tzinfo=UTC), "Asia/Kolkata", date(2021, 4, 27)),
        (datetime(2021, 4, 27, 18, 30, tzinfo=UTC), "Asia/Kolkata", date(2021, 4, 28)),
        (datetime(2021, 3, 14, 4, 59, tzinfo=UTC), "America/New_York", date(2021, 3, 13)),
        (datetime(2021, 3, 15, 3, 59, tzinfo=UTC), "America/New_York", date(2021, 3, 14)),
        (datetime(2021, 3, 15, 4, 0, tzinfo=UTC), "America/New_York", date(2021, 3, 15)),
        (datetime(2021, 4, 27, 23, 0, tzinfo=UTC), "UTC", date(2021, 4, 27)),
    ]
    with db.session() as session:
        for moment, zone, expected in cases:
            day = session.execute(sa.select(local_date(sa.literal(moment, UTCDateTime()), zone)))
            assert day.scalar_one() == expected, (moment, zone)
