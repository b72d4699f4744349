"""DKIM signing off the sending process's core: the RSA operations run in worker processes.

The sending process canonicalises and hashes each message (cheap, see dkim.prepare) and ships
only the 32-byte digests to a process pool sized to the cores, a chunk ahead of the relay
connections: while chunk k goes out, chunk k+1 is already being signed, so the connections
never wait for a whole chunk to finish. Chunks smaller than `MIN_POOLED`, the first
`POOL_AFTER` messages and the time until the pool has started are signed in-process, so a small
tick never waits for (or pays for) worker processes. A pool that breaks (a worker killed) is
dropped and signing continues in-process: no message is lost or sent unsigned.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from itertools import islice
from typing import Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from campaign_engine.sending.dkim import DkimSigner, Prepared, SigningKeys, sign_digests

__all__ = [
    "CHUNK",
    "MIN_POOLED",
    "POOL_AFTER",
    "SignedDelivery",
    "SigningPool",
    "signed_stream",
]

log = logging.getLogger(__name__)

CHUNK = 32  # messages per hop to the pool: amortises the inter-process round trip
MIN_POOLED = 16  # fewer messages than this are signed in-process
# Workers start once this many messages were signed in-process: starting them costs about a
# second of CPU (each imports the package), worth it for volume, not for a 20-message tick.
POOL_AFTER = 256

_worker_keys: tuple[rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey | None] | None = None


def _init_worker(keys: SigningKeys) -> None:
    global _worker_keys
    _worker_keys = keys.loaded()


def _ready() -> bool:
    return _worker_keys is not None


def _sign_chunk(digests: list[list[bytes]]) -> list[list[bytes]]:
    assert _worker_keys is not None, "signing worker started without keys"
    return [sign_digests(_worker_keys, each) for each in digests]


class SigningPool:
    """Signs batches of messages with `signer`, in worker processes once they are up."""

    def __init__(self, signer: DkimSigner, processes: int | None = None) -> None:
        self.signer = signer
        self.processes = processes or len(os.sched_getaffinity(0))
        self._executor: ProcessPoolExecutor | None = None
        self._warm: list[Future[bool]] = []
        self._signed_here = 0
        self._broken = False

    @property
    def ready(self) -> bool:
        """True once every worker process has started and loaded the keys."""
        return bool(self._warm) and all(future.done() for future in self._warm)

    def start(self) -> None:
        """Start the workers and wait until they are up (else the first deliver starts them)."""
        self._signed_here = max(self._signed_here, POOL_AFTER)
        if self._pool_ready() or self._executor is None:
            return
        for future in self._warm:
            future.result()

    def _pool_ready(self) -> bool:
        # On one core a pool only adds the hop; before POOL_AFTER it is not worth starting.
        if self.processes < 2 or self._broken or self._signed_here < POOL_AFTER:
            return False
        if self._executor is None:
            # spawn, not fork: the sending process has threads (and a database engine).
            self._executor = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.signer.keys,),
            )
            self._warm = [self._executor.submit(_ready) for _ in range(self.processes)]
        return self.ready

    def sign(self, raws: list[bytes]) -> list[bytes]:
        """The messages, signed (in the workers when they are up)."""
        return self.submit([self.signer.prepare(raw) for raw in raws])()

    def submit(self, prepared: list[Prepared]) -> Callable[[], list[bytes]]:
        """Start signing; the returned function gives the signed messages (waiting for the
        workers if they are not done yet)."""
        if len(prepared) < MIN_POOLED or not self._pool_ready():
            self._signed_here += len(prepared)
            signed = [self.signer.sign_prepared(p) for p in prepared]
            return lambda: signed
        assert self._executor is not None
        # One task per chunk, not one per worker: each submit wakes the executor's threads, and
        # on a loaded machine the sending process then waits milliseconds to get the GIL back.
        # The workers still overlap: chunk k+1 is submitted while chunk k is being sent.
        try:
            future = self._executor.submit(_sign_chunk, [p.digests for p in prepared])
        except BrokenProcessPool as exc:
            signed = self._fall_back(prepared, exc)
            return lambda: signed
        return lambda: self._collect(prepared, future)

    def _collect(self, prepared: list[Prepared], future: Future[list[list[bytes]]]) -> list[bytes]:
        try:
            signatures = future.result()
        except BrokenProcessPool as exc:
            return self._fall_back(prepared, exc)
        return [self.signer.finish(p, s) for p, s in zip(prepared, signatures, strict=True)]

    def _fall_back(self, prepared: list[Prepared], exc: BaseException) -> list[bytes]:
        log.warning("DKIM signing workers stopped (%s); signing in-process from now on", exc)
        self._broken = True
        return [self.signer.sign_prepared(p) for p in prepared]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


class SignedDelivery(Protocol):
    @property
    def raw(self) -> bytes: ...


D = TypeVar("D", bound=SignedDelivery)


def signed_stream(
    pool: SigningPool, deliveries: Iterable[D], refuse: Callable[[D, Exception], None]
) -> Iterator[D]:
    """The deliveries, signed, still lazy: when chunk k is taken, chunk k+1 is rendered and
    handed to the workers, so its signatures are ready by the time the connections want it.
    A message that cannot be signed goes to `refuse` and is left out; the others go on."""
    pending = iter(deliveries)

    def next_chunk() -> tuple[list[D], Callable[[], list[bytes]]]:
        chunk: list[D] = []
        prepared: list[Prepared] = []
        while not chunk:  # a chunk of only unsignable messages is not the end of the stream
            taken = list(islice(pending, CHUNK))  # rendering happens here, lazily
            if not taken:
                break
            for delivery in taken:
                try:
                    prepared.append(pool.signer.prepare(delivery.raw))
                except Exception as exc:
                    refuse(delivery, exc)
                    continue
                chunk.append(delivery)
        return chunk, pool.submit(prepared)

    chunk, result = next_chunk()
    while chunk:
        following, after = next_chunk()
        raws = result()
        yield from (replace(d, raw=raw) for d, raw in zip(chunk, raws, strict=True))  # type: ignore[type-var]
        chunk, result = following, after
