"""The next message's envelope behind the final dot (RFC 2920), against tests/faultrelay.py: it
goes only when its admission is there at once, and a run stopped by the last outcome sends
nothing more of it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

from campaign_engine.core.config import SmtpSettings
from campaign_engine.sending.outcomes import Delivery, Outcome
from campaign_engine.sending.retry import AttemptResult
from campaign_engine.sending.smtp_client import SmtpTransport
from tests.faultrelay import fault_relay

RECIPIENTS = [f"c{i}@smb.example" for i in range(4)]


def _delivery(key: int, **hooks: Callable[..., bool]) -> Delivery:
    raw = f"From: a@vendor.example\r\nTo: {RECIPIENTS[key]}\r\nSubject: hi\r\n\r\nhello\r\n"
    return Delivery(key, "a@vendor.example", RECIPIENTS[key], raw.encode(), False, **hooks)


def test_a_message_whose_admission_would_wait_goes_after_the_answer_it_waits_for() -> None:
    # One provider connection: the next message's admission waits for this one's answer, so
    # its envelope cannot go behind this one's dot (that would wait forever).
    async def run(port: int) -> list[Outcome]:
        slot = asyncio.Semaphore(1)

        async def taken(key: int) -> None:
            await slot.acquire()

        def done(outcome: Outcome) -> None:
            slot.release()

        deliveries = [_delivery(k, ready=lambda key: not slot.locked()) for k in range(4)]
        async with SmtpTransport(SmtpSettings(port=port, concurrency=1)) as transport:
            return await asyncio.wait_for(transport.deliver(deliveries, taken, done), 10)

    with fault_relay() as relay:
        outcomes = asyncio.run(run(relay.port))
        assert [o.result for o in outcomes] == [AttemptResult.DELIVERED] * 4
        assert relay.arrived() == dict.fromkeys(RECIPIENTS, 1)
        assert relay.behind_dot == 0


def test_a_message_taken_ahead_of_an_outcome_that_stops_the_run_is_not_sent() -> None:
    async def run(port: int) -> list[Outcome]:
        stopped: list[int] = []

        def wanted() -> bool:
            return not stopped

        def deliveries() -> Iterator[Delivery]:
            for key in range(4):
                if stopped:
                    return
                yield _delivery(key, wanted=wanted)

        async with SmtpTransport(SmtpSettings(port=port, concurrency=1)) as transport:
            return await transport.deliver(deliveries(), None, lambda o: stopped.append(o.key))

    for pipelining in (True, False):
        with fault_relay(pipelining=pipelining) as relay:
            outcomes = asyncio.run(run(relay.port))
            assert relay.arrived() == {RECIPIENTS[0]: 1}
            assert outcomes[0].result == AttemptResult.DELIVERED
            # Pipelined, the second was taken (its envelope behind the first's dot) and goes
            # back unsent; step by step, it was never taken.
            assert [o.result for o in outcomes[1:]] == (
                [AttemptResult.NOT_ATTEMPTED] if pipelining else []
            )
