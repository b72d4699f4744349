"""A big contacts file imports in bounded memory (bench/import_big.py does the 50 MB run)."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import func, select

from bench.import_big import write_big_csv
from campaign_engine.audience.imports import import_contacts
from campaign_engine.store.db import Database
from campaign_engine.store.models import Contact

NOW = datetime(2021, 4, 20, tzinfo=UTC)


def test_a_5_mb_file_imports_with_memory_far_below_its_size(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'big.db'}")
    warm_up = tmp_path / "warm-up.csv"
    write_big_csv(warm_up, 20_000)  # first-use caches (SQL compilation, validators) are not per row
    import_contacts(db, warm_up, NOW)
    path = tmp_path / "big.csv"
    # Wide rows like a CRM export (~600 bytes): 5 MB stays quick to import under tracemalloc,
    # and memory per row is what would grow; bench/import_big.py measures narrow rows.
    rows = write_big_csv(path, 5 * 1024 * 1024, note_chars=450)
    seen: list[tuple[int, int]] = []
    tracemalloc.start()
    try:
        result = import_contacts(
            db, path, NOW, progress=lambda done, total: seen.append((done, total))
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = path.stat().st_size
    assert (result.created + result.unchanged, result.rejected) == (rows, [])
    assert peak < size / 4, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"
    assert seen[-1] == (size, size)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    with db.session() as session:
        assert session.exec(select(func.count()).select_from(Contact)).one() == rows
    db.dispose()
