"""Where a profiled send tick spent its time, grouped: render, MIME build, DKIM, SMTP, database.

cProfile counts a coroutine only while it runs (each resume is a call), so the SMTP group is
the time our SMTP code and aiosmtplib run, not the time spent waiting for the relay (that is
"event loop: epoll"). Wall-clock timer: on a busy machine, compare shares, not seconds.
"""

from __future__ import annotations

import pstats
from collections.abc import Iterable

__all__ = ["print_groups"]

# (group, [(file suffix, function name)]): a group's time is the sum of the cumulative times of
# its functions, which never call each other across groups (checked by the "rest" row staying
# positive), minus the groups listed as nested in it.
_GROUPS: list[tuple[str, list[tuple[str, str]]]] = [
    ("render (Jinja2, tracked links, pixel)", [("sending/render.py", "render")]),
    ("MIME build and headers (_build minus render)", [("sending/dispatcher.py", "_build")]),
    (
        "DKIM prepare + finish (this process)",
        [("sending/dkim.py", "prepare"), ("sending/dkim.py", "finish")],
    ),
    ("DKIM signed in this process (RSA)", [("sending/dkim.py", "sign_digests")]),
    ("DKIM waiting for the workers", [("concurrent/futures/_base.py", "result")]),
    ("SMTP (our client + aiosmtplib)", [("sending/smtp_client.py", "_transaction")]),
    ("SMTP connection pool and limiter", [("sending/smtp_client.py", "_after")]),
    (
        "database: claim, checks, record, queue",
        [
            ("sending/dispatcher.py", "_claim"),
            ("sending/dispatcher.py", "_check"),
            ("sending/dispatcher.py", "_record"),
            ("sending/dispatcher.py", "_queue_due"),
            ("sending/dispatcher.py", "_expire_leases"),
            ("engine/enrolment.py", "enrol_late_joiners"),
            ("sending/relay_state.py", "current_pause"),
        ],
    ),
    ("event loop: epoll", [("~", "<method 'poll' of 'select.epoll' objects>")]),
]
_NESTED = {
    "MIME build and headers (_build minus render)": ["render (Jinja2, tracked links, pixel)"]
}


def _cumulative(stats: pstats.Stats, functions: Iterable[tuple[str, str]]) -> float:
    total = 0.0
    table = stats.stats  # type: ignore[attr-defined]
    for (path, _line, name), (_cc, _nc, tottime, cumtime, _callers) in table.items():
        for suffix, wanted in functions:
            if name == wanted and path.endswith(suffix):
                total += tottime if path == "~" else cumtime
    return total


def print_groups(stats: pstats.Stats, label: str) -> None:
    """One line per group: seconds and share of the profiled tick."""
    seconds = {group: _cumulative(stats, functions) for group, functions in _GROUPS}
    for group, inner in _NESTED.items():
        seconds[group] -= sum(seconds[name] for name in inner)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\n{label}: {total:.2f} s profiled")
    for group, spent in seconds.items():
        print(f"  {group:<46} {spent:7.2f} s {spent / total:6.1%}")
    rest = total - sum(seconds.values())
    print(f"  {'rest (asyncio, generators, bookkeeping)':<46} {rest:7.2f} s {rest / total:6.1%}")
