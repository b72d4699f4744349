"""DKIM signing off the event loop: the private-key operations run in worker processes.

The sending process canonicalises and hashes each message (cheap, see dkim.prepare) and ships
only the 32-byte digests to a process pool sized to the cores; the RSA operations (most of the
signing cost) run there in parallel while the event loop keeps the SMTP connections busy with
the previous chunk. Chunks smaller than `MIN_POOLED` and the time until the pool has started
are signed in-process, so a small tick never waits for worker processes to start.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from itertools import islice
from typing import Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from campaign_engine.sending.dkim import DkimSigner, SigningKeys, sign_digests

__all__ = ["CHUNK", "MIN_POOLED", "SignedDelivery", "SigningPool", "deliver_signed"]

CHUNK = 64  # messages signed per pool task: amortises the inter-process hop
MIN_POOLED = 16  # fewer messages than this are signed in-process

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

    @property
    def ready(self) -> bool:
        """True once every worker process has started and loaded the keys."""
        return bool(self._warm) and all(future.done() for future in self._warm)

    def start(self) -> None:
        """Start the workers and wait until they are up (else the first deliver starts them)."""
        if self._pool_ready() or self._executor is None:
            return
        for future in self._warm:
            future.result()

    def _pool_ready(self) -> bool:
        if self.processes < 2:  # one core: a pool only adds the hop
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

    async def sign(self, raws: list[bytes]) -> list[bytes]:
        prepared = [self.signer.prepare(raw) for raw in raws]
        if len(raws) < MIN_POOLED or not self._pool_ready():
            return [self.signer.sign_prepared(p) for p in prepared]
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        per_task = max(1, -(-len(prepared) // self.processes))
        parts = [prepared[i : i + per_task] for i in range(0, len(prepared), per_task)]
        results = await asyncio.gather(
            *(
                loop.run_in_executor(self._executor, _sign_chunk, [p.digests for p in part])
                for part in parts
            )
        )
        return [
            self.signer.finish(p, sigs)
            for part, signed in zip(parts, results, strict=True)
            for p, sigs in zip(part, signed, strict=True)
        ]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


class SignedDelivery(Protocol):
    @property
    def raw(self) -> bytes: ...


D = TypeVar("D", bound=SignedDelivery)
R = TypeVar("R")


async def deliver_signed(
    deliver: Callable[[list[D]], Awaitable[list[R]]],
    pool: SigningPool,
    deliveries: Iterable[D],
) -> list[R]:
    """Sign and hand over chunk by chunk: chunk k+1 is rendered and signed while chunk k is on
    the wire, so the relay connections and the signing workers are busy at the same time."""
    pending = iter(deliveries)
    outcomes: list[R] = []
    sending: asyncio.Task[list[R]] | None = None
    while chunk := list(islice(pending, CHUNK)):  # rendering happens here, lazily
        raws = await pool.sign([d.raw for d in chunk])
        signed = [replace(d, raw=raw) for d, raw in zip(chunk, raws, strict=True)]  # type: ignore[type-var]
        if sending is not None:
            outcomes += await sending
        sending = asyncio.ensure_future(deliver(signed))
    if sending is not None:
        outcomes += await sending
    return outcomes
