"""CPU per message of building campaign mail: rendering, MIME and DKIM prepare, in one thread.

    .venv/bin/python bench/build.py [--messages 3000] [--rounds 5] [--profile]

Builds N messages of the bundled sequence for N contacts (the names, titles and reps
bench/send.py imports: half practitioners, half CISOs, some reps without a name) the way the
dispatcher does (`Dispatcher._build`: render, headers, MIME), then DKIM-prepares them (the
canonicalisation and hashes the sending process does before the RSA operation). Prints the
thread CPU time per message of each phase, best of the rounds: no SMTP, no database, so the
figure holds on a loaded machine where wall-clock rates do not. To compare with another tree
in the same minutes, run it again with PYTHONPATH=that/tree (its campaign_engine is imported).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from campaign_engine.core.config import Settings, load_settings
from campaign_engine.sending.campaigns import renderer_for
from campaign_engine.sending.dispatcher import Dispatcher, _Batch
from campaign_engine.sending.dkim import DkimSigner, generate_key
from campaign_engine.sending.render import Recipient
from campaign_engine.sending.sequences import load_sequence
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database
from campaign_engine.store.models import Campaign, Message

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2021, 4, 27, 9, tzinfo=UTC)


def recipients(count: int) -> list[Recipient]:
    return [
        Recipient(
            email=f"user{i}@acct{i // 5}.example",
            first_name=f"First{i}",
            last_name=f"Last{i}",
            title="CISO" if i % 2 else "Software Engineer",
            account=f"Account {i // 5}",
            segment="SMB",
            rep_name="" if i % 7 < 3 else f"Rep {i % 7}",
            rep_email=f"rep{i % 7}@vendor.example",
        )
        for i in range(count)
    ]


def settings_in(workdir: Path) -> Settings:
    config = workdir / "config.toml"
    config.write_text(
        f'database_url = "sqlite:///{workdir}/bench.db"\ntransport = "outbox"\nsecret = "bench"\n'
        f'sequences_dir = "{ROOT / "sequences"}"\ntemplates_dir = "{ROOT / "templates"}"\n'
    )
    return load_settings(config, environ={})


def cpu_per_message(work: Callable[[], object], count: int) -> float:
    started = time.thread_time()
    work()
    return (time.thread_time() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_in(Path(tmp))
        db = Database(settings.database_url)
        dispatcher = Dispatcher(db, settings, make_transport(settings))
        sequence = load_sequence(settings.sequences_dir, "premium-to-ultimate")
        campaign = Campaign(id=1, name="bench", sequence_json=sequence.to_json())
        renderer = renderer_for(settings, sequence)
        batch = _Batch(campaign, None, renderer, [])  # type: ignore[arg-type]
        signer = DkimSigner("bench", "vendor.example", generate_key().private_pem)
        people = recipients(args.messages)
        messages = [Message(id=i + 1, step=1 + i % 3) for i in range(args.messages)]
        pairs = list(zip(messages, people, strict=True))
        date_header = "Tue, 27 Apr 2021 09:00:00 +0000"

        def render() -> None:
            for message, person in pairs:
                assert message.id is not None
                renderer.render(message.step, person, message.id)

        built: list[bytes] = []

        def build() -> None:
            built.clear()
            for message, person in pairs:
                delivery = dispatcher._build(batch, message, person, {}, date_header)
                built.append(delivery.raw)

        def prepare() -> None:
            for raw in built:
                signer.prepare(raw)

        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(build)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for phase, work in (("render", render), ("build", build), ("dkim", prepare)):
                figure = cpu_per_message(work, args.messages)
                best[phase] = min(best.get(phase, figure), figure)
        db.dispose()
    print(f"{args.messages:,} messages, best of {args.rounds} rounds, thread CPU per message:")
    print(f"  Renderer.render                       {best['render']:7.1f} us")
    print(f"  MIME and headers (build minus render)  {best['build'] - best['render']:7.1f} us")
    print(f"  building a message (Dispatcher._build) {best['build']:7.1f} us")
    print(f"  DKIM prepare                           {best['dkim']:7.1f} us")
    print(f"  build + DKIM prepare                   {best['build'] + best['dkim']:7.1f} us")


if __name__ == "__main__":
    main()
