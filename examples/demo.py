"""`make demo`: a realistic campaign, end to end, on the embedded defaults.

Imports the example target list, launches "Upsell Premium to Ultimate" on Tuesday 2021-04-27,
then ticks through three simulated weeks (twice a day) and shows what went to whom and when.
Everything is real except the clock: the same `campaign` commands an operator would run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / "var" / "demo"
START = date(2021, 4, 27)
console = Console()


def campaign(*args: str, check: bool = True) -> None:
    console.print(f"\n[bold cyan]$ campaign {' '.join(args)}[/bold cyan]")
    env = {
        **os.environ,
        "CAMPAIGN_CONFIG": str(ROOT / "config.toml"),
        "CAMPAIGN_DATABASE_URL": f"sqlite:///{RUN_DIR / 'campaign.db'}",
        "CAMPAIGN_OUTBOX_DIR": str(RUN_DIR / "outbox"),
        "CAMPAIGN_TRANSPORT": "outbox",
        "COLUMNS": os.environ.get("COLUMNS", "160"),
    }
    binary = Path(sys.executable).parent / "campaign"
    result = subprocess.run([str(binary), *args], env=env, check=False)
    if check and result.returncode != 0:
        sys.exit(f"demo: `campaign {' '.join(args)}` failed with exit code {result.returncode}")


def main() -> None:
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    console.rule("campaign-engine demo: Upsell Premium to Ultimate")
    campaign("import", "reps", str(ROOT / "examples" / "reps.csv"))
    campaign("import", "contacts", str(ROOT / "examples" / "target-list.csv"))
    campaign(
        "launch",
        "premium-to-ultimate",
        "--start",
        START.isoformat(),
        "--name",
        "Premium to Ultimate",
    )
    console.rule("Three weeks, ticking at 09:00 and 13:00 UTC each day")
    for offset in range(0, 15):
        day = START + timedelta(days=offset)
        for hour in ("09:00", "13:00"):
            campaign("tick", "--now", f"{day.isoformat()}T{hour}:00+00:00")
    console.rule("Result")
    campaign("status")
    campaign("messages", "--limit", "25")
    outbox = RUN_DIR / "outbox" / "new"
    count = len(list(outbox.iterdir())) if outbox.exists() else 0
    console.print(
        f"\n[bold green]{count} messages delivered[/bold green] into the Maildir {RUN_DIR / 'outbox'}"
        f"\nOpen one: [cyan]less {next(outbox.iterdir()) if count else outbox}[/cyan]"
        f"  or the whole folder: [cyan]mutt -f {RUN_DIR / 'outbox'}[/cyan]"
        "\nAll messages: [cyan]campaign messages --limit 0[/cyan] (with the same CAMPAIGN_* settings)"
    )


if __name__ == "__main__":
    main()
