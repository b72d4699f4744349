"""CPU per message of the SMTP transport alone: built messages into Postfix's smtp-sink.

    .venv/bin/python bench/transport.py [--messages 4000] [--rounds 3] [--concurrency 4]

`SmtpTransport.deliver` of N ready messages (about 10 KB each) over the pooled connections, no
rendering, no database, nothing waiting to be admitted: the process CPU time per message, best
of the rounds (steadier than rates on a shared machine). To compare with another tree in the
same minutes, run it again with PYTHONPATH=that/tree (its campaign_engine is imported).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from campaign_engine.core.config import SmtpSettings
from campaign_engine.sending.outcomes import Delivery
from campaign_engine.sending.smtp_client import SmtpTransport

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import smtp_sink

HEAD = b"From: bench@vendor.example\r\nTo: user@acct.example\r\nSubject: bench\r\n\r\n"
RAW = HEAD + b"x" * 76 + b"\r\n" + (b"y" * 76 + b"\r\n") * 130


async def cpu_per_message(port: int, count: int, concurrency: int) -> float:
    """Microseconds of this process's CPU per message delivered."""
    deliveries = (
        Delivery(i, "bench@vendor.example", f"user{i}@acct{i % 40}.example", RAW)
        for i in range(count)
    )
    transport = SmtpTransport(SmtpSettings(port=port, concurrency=concurrency))
    cpu = time.process_time()
    async with transport:
        outcomes = await transport.deliver(deliveries)
    cpu = time.process_time() - cpu
    if sum(o.ok for o in outcomes) != count:
        raise SystemExit(f"only {sum(o.ok for o in outcomes)} of {count} delivered")
    return cpu / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with smtp_sink("postfix") as port:
        runs = [
            asyncio.run(cpu_per_message(port, args.messages, args.concurrency))
            for _ in range(args.rounds)
        ]
    print(
        f"{args.messages:,} messages, {args.concurrency} connections, smtp-sink: transport CPU"
        f" per message best {min(runs):.0f} us (rounds: {', '.join(f'{r:.0f}' for r in runs)})"
    )


if __name__ == "__main__":
    main()
