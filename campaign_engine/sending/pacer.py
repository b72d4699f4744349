"""Per-provider pacing in the send path: the dispatcher asks, before each batch goes out, which
messages each provider may take now; holds the rest until their provider's next free slot; keeps
each provider's messages in flight within its `max_connections`; and tells the pacing what the
provider answered.

The rate and send clock of each provider live in the database (pace_store), so every worker
process shares them: N workers together keep a provider within its `max_per_hour`, and one
provider's deferrals slow every worker's mail to it. Only the SMTP transport is paced.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from campaign_engine.core.config import Settings
from campaign_engine.core.pacing_config import PacingSettings
from campaign_engine.sending.outcomes import OnDone, OnTaken, Outcome
from campaign_engine.sending.pace_store import learn, take
from campaign_engine.sending.pacing import BURST, DEFERRAL_BURST
from campaign_engine.sending.providers import ProviderDirectory
from campaign_engine.sending.retry import AttemptResult
from campaign_engine.store.db import Database

__all__ = ["BatchPace", "Pacer"]

log = logging.getLogger(__name__)


class Pacer:
    """Per-provider pacing for one sender process (its MX answers are cached here)."""

    def __init__(
        self,
        db: Database,
        settings: PacingSettings,
        directory: ProviderDirectory | None,
        burst: timedelta = BURST,
    ) -> None:
        self.db = db
        self.settings = settings
        self.directory = directory  # None: nothing is paced
        self.burst = burst  # idle time a provider's clock banks at most

    @classmethod
    def for_settings(cls, db: Database, settings: Settings) -> Pacer:
        paced = settings.transport == "smtp"
        directory = ProviderDirectory.from_settings(settings.pacing) if paced else None
        tick = timedelta(seconds=settings.tick_seconds)
        return cls(db, settings.pacing, directory, max(BURST, tick))

    async def admit(
        self, recipients: Mapping[int, str], clock: Callable[[], datetime]
    ) -> BatchPace:
        """`recipients`: key -> address of each message about to go, in sending order. The
        messages beyond what their provider may take now are `held`, each until the slot it
        would get at the provider's present rate (so later ticks claim about what can go)."""
        if self.directory is None or not recipients:
            return BatchPace(self, {}, {}, clock)
        domains = {key: address.rpartition("@")[2] for key, address in recipients.items()}
        found = await self.directory.providers(domains.values(), clock())
        provider_of = {key: found[domain.lower()] for key, domain in domains.items()}
        paced = Counter(p for p in provider_of.values() if self.paced(p))
        admissions = take(self.db, self.settings, paced, clock(), self.burst)
        seen: Counter[str] = Counter()
        held: dict[int, datetime] = {}
        for key, provider in provider_of.items():  # each held one at its own coming slot
            admission, seen[provider] = admissions.get(provider), seen[provider] + 1
            if admission is not None and seen[provider] > admission.allowed:
                held[key] = admission.slot(seen[provider] - admission.allowed - 1)
        return BatchPace(self, provider_of, held, clock)

    def paced(self, provider: str) -> bool:
        """Whether `provider` has an hourly limit (and so a rate that follows its replies)."""
        return self.settings.limit(provider).max_per_hour > 0


class BatchPace:
    """One batch's pacing: what is held, the connection limit, and what the providers said."""

    def __init__(
        self,
        pacer: Pacer,
        provider_of: dict[int, str],
        held: dict[int, datetime],
        clock: Callable[[], datetime],
    ) -> None:
        self.pacer = pacer
        self.provider_of = provider_of
        self.held = held  # key -> when its provider has room again
        self.clock = clock
        limits = {p: pacer.settings.limit(p).max_connections for p in set(provider_of.values())}
        self._slots = {p: asyncio.Semaphore(n) for p, n in limits.items()}
        self._in_flight: set[int] = set()
        self._delivered: Counter[str] = Counter()
        self._deferred: defaultdict[str, list[datetime]] = defaultdict(list)

    def taken(self, inner: OnTaken) -> OnTaken:
        """`inner`, after waiting until the message's provider has a connection free."""

        async def taken(key: int) -> None:
            provider = self.provider_of.get(key)
            if provider is not None:
                await self._slots[provider].acquire()
                self._in_flight.add(key)
            await inner(key)

        return taken

    def free(self, key: int) -> bool:
        """The message's provider has a connection free now: `taken` would not wait."""
        provider = self.provider_of.get(key)
        return provider is None or not self._slots[provider].locked()

    def answered(self, inner: OnDone) -> OnDone:
        """`inner`, after noting the provider's answer and freeing its connection."""

        def answered(outcome: Outcome) -> None:
            provider = self.provider_of.get(outcome.key)
            if provider is not None:
                if outcome.key in self._in_flight:
                    self._in_flight.discard(outcome.key)
                    self._slots[provider].release()
                if outcome.ok:
                    self._delivered[provider] += 1
                elif outcome.result == AttemptResult.TRANSIENT:
                    self._deferred[provider].append(self.clock())
            inner(outcome)

        return answered

    def learn(self) -> None:
        """Fold what the providers answered into their rates (shared through the database)."""
        pacer = self.pacer
        providers = {p for p in (*self._delivered, *self._deferred) if pacer.paced(p)}
        if not providers:
            return
        observed = {p: (self._delivered[p], self._deferred[p]) for p in providers}
        moment = self.clock()
        for pace in learn(pacer.db, pacer.settings, observed, moment):
            if pace.slowed_at == moment:
                log.warning(
                    "%s deferred mail %d times within a minute: its rate is halved to %d an hour",
                    pace.provider,
                    DEFERRAL_BURST,
                    pace.rate,
                )
