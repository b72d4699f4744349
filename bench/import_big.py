"""Import a big generated contacts CSV into a fresh SQLite database; print rows/s and peak RSS.

    .venv/bin/python bench/import_big.py            # ~50 MB
    .venv/bin/python bench/import_big.py --mb 200

The file streams through campaign_engine.imports in chunks, so peak RSS should stay near the
interpreter's baseline whatever the file size (the only per-row memory is a small fingerprint
per distinct email, used to report conflicting duplicate rows).
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

COLUMNS = [
    "email",
    "first_name",
    "last_name",
    "title",
    "account",
    "employees",
    "segment",
    "owner_email",
    "outreach_mode",
    "notes",
]
TITLES = ["Software Engineer", "CISO", "VP of IT", "Developer", "Platform Architect"]


def write_big_csv(path: Path, target_bytes: int, note_chars: int = 0) -> int:
    """Write distinct contacts (20 per account) until the file reaches target_bytes; row count.

    `note_chars` pads each row's notes column, like the wide rows of a CRM export.
    """
    padding = "x" * note_chars
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        while handle.tell() < target_bytes:
            account = rows // 20
            writer.writerow(
                [
                    f"person{rows}@account{account}.example",
                    f"First{rows}",
                    f"Last, {rows}",
                    TITLES[rows % len(TITLES)],
                    f"Account {account}",
                    str(10 + account % 2000),
                    "",
                    f"rep{account % 50}@gitlab-demo.example",
                    "",
                    f'a note with a comma, a "quote" and\na line break{padding}',
                ]
            )
            rows += 1
    return rows


def peak_rss_mb() -> float:
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def main() -> None:
    from campaign_engine.audience.imports import import_contacts
    from campaign_engine.store.db import Database

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=50.0, help="file size in MB (default 50)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        rows = write_big_csv(path, int(args.mb * 1024 * 1024))
        db = Database(f"sqlite:///{tmp}/bench.db")
        baseline = peak_rss_mb()
        started = time.perf_counter()
        result = import_contacts(db, path, datetime(2021, 4, 20, tzinfo=UTC))
        elapsed = time.perf_counter() - started
        size_mb = path.stat().st_size / 1024 / 1024
        print(f"file: {size_mb:.1f} MB, {rows} rows; created {result.created}")
        print(f"time: {elapsed:.1f} s, {rows / elapsed:,.0f} rows/s")
        print(f"peak RSS: {peak_rss_mb():.0f} MB (before the import: {baseline:.0f} MB)")
        db.dispose()


if __name__ == "__main__":
    main()
