"""`make demo`: a realistic campaign, end to end, on the embedded defaults.

Imports the example target list, launches "Upsell Premium to Ultimate" on Tuesday 2021-04-27,
then ticks through three simulated weeks (twice a day) and shows what went to whom and when.
Everything is real except the clock: the same `campaign` commands an operator would run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / "var" / "demo"
START = date(2021, 4, 27)
console = Console() if sys.stdout.isatty() else Console(width=150)


def campaign(*args: str, quiet: bool = False) -> str:
    """Run one `campaign` command as an operator would; quiet ones print only when they did work."""
    if not quiet:
        console.print(f"\n[bold cyan]$ campaign {' '.join(args)}[/bold cyan]")
    env = {
        **os.environ,
        "CAMPAIGN_CONFIG": str(ROOT / "config.toml"),
        "CAMPAIGN_DATABASE_URL": f"sqlite:///{RUN_DIR / 'campaign.db'}",
        "CAMPAIGN_OUTBOX_DIR": str(RUN_DIR / "outbox"),
        "CAMPAIGN_TRANSPORT": "outbox",
        # Every message is DKIM-signed with the key `dkim keygen` writes at the start.
        "CAMPAIGN_DKIM_SELECTOR": "demo",
        "CAMPAIGN_DKIM_DOMAIN": "gitlab-demo.example",
        "CAMPAIGN_DKIM_PRIVATE_KEY_PATH": str(RUN_DIR / "dkim.pem"),
        "COLUMNS": os.environ.get("COLUMNS", "160"),
    }
    binary = Path(sys.executable).parent / "campaign"
    result = subprocess.run(
        [str(binary), *args], env=env, check=False, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        sys.exit(f"demo: `campaign {' '.join(args)}` failed with exit code {result.returncode}")
    if not quiet:
        sys.stdout.write(result.stdout)
    return result.stdout


def by_day(records: list[dict[str, str]]) -> Table:
    """What went out each day: step, subject, how many contacts at how many accounts."""
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = defaultdict(list)
    for record in records:
        if record["state"] == "sent":
            groups[(record["sent_at"][:16], record["step"], record["subject"])].append(record)
    table = Table(title="What went to whom, and when (sent mail, by send time)")
    for column in ("sent at (UTC)", "step", "subject", "contacts", "accounts", "segments", "e.g."):
        table.add_column(column)
    for (sent_at, step, subject), rows in sorted(groups.items()):
        table.add_row(
            sent_at.replace("T", " "),
            str(step),
            subject,
            str(len(rows)),
            str(len({r["account"] for r in rows})),
            ", ".join(sorted({r["segment"] for r in rows})),
            rows[0]["to"],
        )
    return table


def tick_through_every_zone() -> None:
    """Each contact gets mail at 09:00 in their own zone (the launch table above shows each zone's
    first send), so the demo ticks at the moments those mornings begin, in UTC."""
    mornings = {
        "00:00": "Tokyo",
        "03:30": "Kolkata",
        "07:00": "Berlin",
        "08:00": "London",
        "13:00": "New York",
        "14:00": "Chicago",
        "16:00": "Los Angeles",
    }
    console.rule(
        "Three weeks of `campaign tick` at 09:00 local in each zone: "
        + ", ".join(mornings.values())
    )
    for offset in range(0, 15):
        day = START + timedelta(days=offset)
        # Send days (every 7th) tick at each zone's morning; the others only for reps' mail.
        for hour in mornings if offset % 7 == 0 else ("08:00", "13:00"):
            output = campaign("tick", "--now", f"{day.isoformat()}T{hour}:00+00:00", quiet=True)
            if not output.split(": ", 1)[-1].startswith("0 queued, 0 sent"):
                console.print(output.strip())


def main() -> None:
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    console.rule("campaign-engine demo: Upsell Premium to Ultimate")
    campaign("dkim", "keygen", "--out", str(RUN_DIR / "dkim.pem"))
    campaign("lint", "premium-to-ultimate")
    campaign("import", "reps", str(ROOT / "examples" / "reps.csv"))
    campaign("import", "contacts", str(ROOT / "examples" / "target-list.csv"))
    # Reps marked a few contacts "exclude" in the target list (columns A and B of the play).
    campaign("exclude", str(ROOT / "examples" / "target-list.csv"))
    campaign(
        "launch",
        "premium-to-ultimate",
        "--start",
        START.isoformat(),
        "--name",
        "Premium to Ultimate",
    )
    tick_through_every_zone()
    console.rule("Result")
    campaign("status")
    records = json.loads(campaign("messages", "--limit", "0", "--format", "json", quiet=True))
    console.print(by_day(records))
    console.print(
        "MM and ENT contacts (and modes A and B) got nothing automated: "
        f"{sorted({r['segment'] for r in records})} are the only segments mailed."
    )
    outbox = RUN_DIR / "outbox" / "new"
    count = len(list(outbox.iterdir())) if outbox.exists() else 0
    signed = sum(1 for f in outbox.iterdir() if f.read_bytes().startswith(b"DKIM-Signature:"))
    console.print(f"{signed} of {count} messages carry a DKIM signature (d=gitlab-demo.example)")
    console.print(
        f"\n[bold green]{count} messages delivered[/bold green] into the Maildir {RUN_DIR / 'outbox'}"
        f"\nOpen one: [cyan]less {next(outbox.iterdir()) if count else outbox}[/cyan]"
        f"  or the whole folder: [cyan]mutt -f {RUN_DIR / 'outbox'}[/cyan]"
        "\nAll messages: [cyan]campaign messages --limit 0[/cyan] (with the same CAMPAIGN_* settings)"
    )


if __name__ == "__main__":
    main()
