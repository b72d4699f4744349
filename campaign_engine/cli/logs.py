"""Logging of the `campaign` command: plain lines, or one JSON object per line (`--json-logs`).

`setup_logging` is called by the root callback (--verbose) and again by `tick` and `run`, the
commands that take --quiet and --json-logs.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

__all__ = ["JsonFormatter", "setup_logging"]

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"

# What every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, then the record's `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record comes (rich's live display swaps it, so
    log lines print above the spinner instead of through it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def setup_logging(
    *, verbose: bool = False, quiet: bool = False, json_logs: bool = False, engine: bool = False
) -> None:
    """Configure the root logger (again, replacing what was there).

    Levels: --quiet: warnings and errors only; --verbose: everything at INFO and above (every
    library too); otherwise WARNING, except that `engine=True` (tick, run) lets the engine's own
    INFO lines through, such as the one line per tick.
    """
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(logging.WARNING if quiet or not verbose else logging.INFO)
    ours = logging.INFO if engine and not quiet else logging.NOTSET
    logging.getLogger("campaign_engine").setLevel(ours)
