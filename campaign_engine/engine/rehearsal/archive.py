"""The console's rehearsals on disk: one directory each (result.json and the sample emails), so
every web worker sees them and a launch can refer to the rehearsal it was signed off from."""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path

from campaign_engine.core.errors import NotFound
from campaign_engine.engine.rehearsal.model import Rehearsal

__all__ = ["KEEP", "load_rehearsal", "new_rehearsal_dir", "save_rehearsal"]

KEEP = 20  # rehearsals kept; older ones are deleted when a new one starts
_RESULT = "result.json"
_ID = re.compile(r"[A-Za-z0-9_-]{16}")


def new_rehearsal_dir(root: Path) -> Path:
    """A fresh directory under `root` named by a random id; the oldest beyond KEEP go."""
    root.mkdir(parents=True, exist_ok=True)
    older = sorted(
        (p for p in root.iterdir() if p.is_dir() and _ID.fullmatch(p.name)),
        key=lambda p: p.stat().st_mtime,
    )
    for stale in older[: max(0, len(older) - KEEP + 1)]:
        shutil.rmtree(stale, ignore_errors=True)
    directory = root / secrets.token_urlsafe(12)
    directory.mkdir()
    return directory


def save_rehearsal(rehearsal: Rehearsal, directory: Path) -> None:
    (directory / _RESULT).write_bytes(rehearsal.to_json())


def load_rehearsal(root: Path, rehearsal_id: str) -> tuple[Rehearsal, Path]:
    """The rehearsal and its directory; NotFound for an unknown (or malformed) id."""
    directory = root / rehearsal_id
    if not _ID.fullmatch(rehearsal_id) or not (directory / _RESULT).is_file():
        raise NotFound(f"no rehearsal {rehearsal_id!r} (the newest {KEEP} are kept)")
    return Rehearsal.from_json((directory / _RESULT).read_bytes()), directory
