"""A batch's fate written while it is sent: marked on the wire ahead, outcomes in small groups.

Before the transport may hand a message to the relay, its row is marked `on_wire` in the
database, a few at a time, ahead of the connections. Outcomes (and the messages the send-time
checks held back) are committed in groups, every GROUP_SECONDS or every GROUP of them, in
the same transaction that marks the next ones. So at any moment at most `connections + AHEAD`
rows are marked on the wire without a recorded outcome: a worker killed mid-batch (SIGKILL, the
OOM killer, a lost node) leaves only those `uncertain`, and every other claimed message is
either recorded or goes back to the queue (see Dispatcher._expire_leases).

The commits run in a thread: the event loop keeps the SMTP connections busy meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from campaign_engine.sending.delivery_record import BatchResult, block_runs, open_block_run
from campaign_engine.sending.outcomes import Outcome

__all__ = ["AHEAD", "GROUP", "GROUP_SECONDS", "Group", "WireLedger"]

AHEAD = 50  # rows marked on the wire beyond one per connection: the bound on `uncertain`
GROUP = 40  # outcomes per commit: the marks left ahead cover the commit's own time
GROUP_SECONDS = 0.25  # an outcome waits at most this long for its commit


@dataclass
class Group:
    """One commit: rows to mark on the wire, and messages whose fate is known."""

    marks: list[int] = field(default_factory=list)
    settled: list[int] = field(default_factory=list)  # message ids, outcome or not
    outcomes: list[Outcome] = field(default_factory=list)  # judged (block runs applied)
    cut_short: set[int] = field(default_factory=set)  # handed over when the run was cut


# Writes one group in one transaction; returns what it came to.
Write = Callable[[Group, Counter[str]], BatchResult]


class WireLedger:
    """The marks and outcomes of one batch; `order` is the order the transport takes them."""

    def __init__(self, order: list[int], connections: int, write: Write) -> None:
        self._order = order
        self._limit = max(1, connections) + AHEAD
        self._write = write
        self._next = 0  # index in `order` of the next message to mark
        self._marked: set[int] = set()
        self._open = 0  # marked, fate not committed
        self._committed: set[int] = set()
        self._settled: list[int] = []  # held back at send time: no outcome
        self._arrived: list[Outcome] = []  # outcomes not committed yet, in arrival order
        self._carried: str | None = None  # a block run's code that reached the last commit's end
        self._waiting = 0  # admissions waiting for their mark
        self._first_at: float | None = None  # when the oldest uncommitted fate came
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._lock = threading.Lock()  # a group in its thread vs the final commit
        self._closed = False
        self._final_done = False
        self.result = BatchResult()
        self.counts: Counter[str] = Counter()
        self.handed: set[int] = set()
        self._task = asyncio.ensure_future(self._run())

    # -- the transport's side --------------------------------------------------------------

    async def admit(self, key: int) -> None:
        """Return once `key` is marked on the wire: then the transport may send it."""
        self.handed.add(key)
        while key not in self._marked:
            progress = self._progress
            self._waiting += 1
            self._wake.set()
            try:
                await progress.wait()
            finally:
                self._waiting -= 1

    def marked(self, key: int) -> bool:
        """`key` is marked on the wire: `admit` would return at once."""
        return key in self._marked

    def answered(self, outcome: Outcome) -> None:
        self._arrived.append(outcome)
        self._fate_known()

    def held_back(self, key: int) -> None:
        """`key` will not go out in this batch (deferred, could not be built): its update is
        the dispatcher's."""
        self._settled.append(key)
        self._fate_known()

    def _fate_known(self) -> None:
        if self._first_at is None:  # the committer starts its GROUP_SECONDS clock
            self._first_at = time.monotonic()
            self._wake.set()
        elif len(self._arrived) + len(self._settled) >= GROUP:
            self._wake.set()

    # -- closing ---------------------------------------------------------------------------

    async def close(self) -> None:
        """The transport is done: commit the rest (messages never handed over go back)."""
        self._closed = True
        self._wake.set()
        await self._task
        await asyncio.to_thread(self._final, set())

    def close_now(self) -> None:
        """The run was cut (cancelled, a transport error): what was handed over and not
        answered is `uncertain`; committed at once, in this thread."""
        self._closed = True
        self._task.cancel()
        answered = {o.key for o in self._arrived} | self._committed
        self._final(self.handed - answered)

    def _final(self, cut_short: set[int]) -> None:
        with self._lock:
            left = [key for key in self._order if key not in self._committed]
            settled = [*left, *(k for k in self._settled if k not in self._committed)]
            arrived = [o for o in self._arrived if o.key not in self._committed]
            group = Group([], list(dict.fromkeys(settled)), self._judge(arrived), cut_short)
            self._commit(group)
            self._final_done = True

    # -- committing ------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._closed:
            if not self._due():
                timeout = None
                if self._first_at is not None:
                    timeout = max(0.0, self._first_at + GROUP_SECONDS - time.monotonic())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                self._wake.clear()
                if self._closed or not self._due():
                    continue
            group = self._take()
            await asyncio.to_thread(self._in_thread, group)
            progress, self._progress = self._progress, asyncio.Event()
            progress.set()

    def _due(self) -> bool:
        known = len(self._arrived) + len(self._settled)
        if known >= GROUP:
            return True
        if self._waiting and self._next < len(self._order) and self._room(known) > 0:
            return True  # a connection waits for its mark, and the bound leaves room for it
        return known > 0 and time.monotonic() - (self._first_at or 0.0) >= GROUP_SECONDS

    def _room(self, known: int) -> int:
        """How many more rows may be marked once the fates known now are committed."""
        return self._limit - self._open + known

    def _take(self) -> Group:
        """The next group: fates known so far (a run of one policy refusal still open at the
        end stays for the next group: ten in a row is a block list) and new marks."""
        judged = self._judge(self._arrived)
        keep = open_block_run(judged)
        done, self._arrived = judged[: len(judged) - keep], self._arrived[len(judged) - keep :]
        settled = [*(o.key for o in done), *self._settled]
        self._settled, self._first_at = [], (time.monotonic() if self._arrived else None)
        freed = sum(1 for key in settled if key in self._marked)
        room = self._limit - self._open + freed
        marks: list[int] = []
        skip = self._committed.union(settled)  # held back before its turn: never marked
        while len(marks) < room and self._next < len(self._order):
            key = self._order[self._next]
            self._next += 1
            if key not in skip:
                marks.append(key)
        self._open += len(marks) - freed
        return Group(marks, settled, done)

    def _judge(self, arrived: list[Outcome]) -> list[Outcome]:
        judged = block_runs(arrived, self._carried)
        if judged:
            last = arrived[-1]
            self._carried = last.policy_code if judged[-1].fault is not None else None
        return judged

    def _in_thread(self, group: Group) -> None:
        with self._lock:
            if not self._final_done:  # else the final commit took over, this group included
                self._commit(group)

    def _commit(self, group: Group) -> None:
        result = self._write(group, self.counts)
        self.result.fault = self.result.fault or result.fault
        self.result.delivered += result.delivered
        self.result.released.extend(result.released)
        self.result.relays |= result.relays
        self._committed.update(group.settled)
        self._marked.update(group.marks)
