"""The console's rehearsals on disk: one directory each, so every web worker sees them and a
launch can refer to the rehearsal it was signed off from.

A directory holds `started` (when it began), `progress` (the last simulated moment) while it
runs, then `result.json` and the sample emails, or `error` (why it stopped).
"""

from __future__ import annotations

import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from campaign_engine.core.errors import NotFound
from campaign_engine.engine.rehearsal.model import Rehearsal

__all__ = [
    "KEEP",
    "Pending",
    "load_rehearsal",
    "new_rehearsal_dir",
    "pending_rehearsal",
    "save_failure",
    "save_progress",
    "save_rehearsal",
]

KEEP = 20  # rehearsals kept; older ones are deleted when a new one starts
_RESULT, _STARTED, _PROGRESS, _ERROR = "result.json", "started", "progress", "error"
_ID = re.compile(r"[A-Za-z0-9_-]{16}")


@dataclass(frozen=True)
class Pending:
    """A rehearsal without a result (yet): running, or stopped by `error`."""

    started: datetime
    simulated_to: datetime | None
    error: str


def new_rehearsal_dir(root: Path, now: datetime) -> Path:
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
    _write(directory / _STARTED, now.isoformat().encode())
    return directory


def save_progress(directory: Path, simulated_to: datetime) -> None:
    _write(directory / _PROGRESS, simulated_to.isoformat().encode())


def save_failure(directory: Path, error: str) -> None:
    _write(directory / _ERROR, error.encode())


def save_rehearsal(rehearsal: Rehearsal, directory: Path) -> None:
    _write(directory / _RESULT, rehearsal.to_json())


def load_rehearsal(root: Path, rehearsal_id: str) -> tuple[Rehearsal, Path]:
    """A finished rehearsal and its directory; NotFound for any other id."""
    directory = _directory(root, rehearsal_id)
    if not (directory / _RESULT).is_file():
        raise NotFound(f"no rehearsal {rehearsal_id!r} (the newest {KEEP} are kept)")
    return Rehearsal.from_json((directory / _RESULT).read_bytes()), directory


def pending_rehearsal(root: Path, rehearsal_id: str) -> Pending | None:
    """How a rehearsal without a result is doing; None once it has one. NotFound if unknown."""
    directory = _directory(root, rehearsal_id)
    if (directory / _RESULT).is_file():
        return None
    progress = directory / _PROGRESS
    error = directory / _ERROR
    return Pending(
        datetime.fromisoformat((directory / _STARTED).read_text()),
        datetime.fromisoformat(progress.read_text()) if progress.is_file() else None,
        error.read_text(encoding="utf-8") if error.is_file() else "",
    )


def _write(path: Path, data: bytes) -> None:
    """Whole or not at all: a page reading it meanwhile sees the old file or the new one."""
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.replace(path)


def _directory(root: Path, rehearsal_id: str) -> Path:
    directory = root / rehearsal_id
    if not _ID.fullmatch(rehearsal_id) or not (directory / _STARTED).is_file():
        raise NotFound(f"no rehearsal {rehearsal_id!r} (the newest {KEEP} are kept)")
    return directory
