"""An exclusion upload's result, kept so its long lists can be paged through and downloaded.

Results live in this server process (the last `KEEP` uploads, by a random id): they are a view of
what one upload did, the exclusions themselves are in the database. After a restart the page
says the result is gone and the exclusions list still shows every exclusion.
"""

from __future__ import annotations

import csv
import io
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from campaign_engine.audience.csvfile import csv_safe
from campaign_engine.audience.exclusion_file import ExclusionResult

__all__ = ["KEEP", "LISTS", "UploadResults", "list_csv", "list_rows"]

KEEP = 20


@dataclass(frozen=True)
class ResultList:
    title: str
    columns: tuple[str, ...]
    rows: Callable[[ExclusionResult], Sequence[tuple[Any, ...]]]


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


LISTS: dict[str, ResultList] = {
    "contacts": ResultList(
        "Known contacts it excludes",
        ("email", "name", "account"),
        lambda r: [(x.email, x.name, x.account) for x in r.excluded],
    ),
    "rejected": ResultList(
        "Rejected rows",
        ("file:line", "field", "reason"),
        lambda r: [(f"{e.file}:{e.line}", e.field, e.reason) for e in r.rejected],
    ),
    "already-sent": ResultList(
        "Already sent before this exclusion",
        ("to", "campaign", "email", "subject", "sent at (UTC)"),
        lambda r: [
            (s.email, s.campaign, s.step, s.subject, _when(s.sent_at)) for s in r.already_sent
        ],
    ),
    "unmatched": ResultList(
        "Matched no contact yet",
        ("file:line", "entry", "reason"),
        lambda r: [(f"{r.file}:{e.line}", e.target, e.reason) for e in r.unmatched],
    ),
}


def list_rows(result: ExclusionResult, name: str) -> Sequence[tuple[Any, ...]]:
    return LISTS[name].rows(result)


def list_csv(result: ExclusionResult, name: str) -> str:
    """One of the result's lists as CSV (cells that a spreadsheet would run are neutralised)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(LISTS[name].columns)
    for row in list_rows(result, name):
        writer.writerow([csv_safe(cell) for cell in row])
    return out.getvalue()


class UploadResults:
    """The last `KEEP` upload results, by id (thread-safe: pages run their work in threads)."""

    def __init__(self) -> None:
        self._results: OrderedDict[str, ExclusionResult] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, result: ExclusionResult) -> str:
        key = secrets.token_urlsafe(12)
        with self._lock:
            self._results[key] = result
            while len(self._results) > KEEP:
                self._results.popitem(last=False)
        return key

    def get(self, key: str) -> ExclusionResult | None:
        with self._lock:
            return self._results.get(key)
