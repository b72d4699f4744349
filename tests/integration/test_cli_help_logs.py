"""The `campaign` command as a new user and a service manager meet it: `--help` grouped in
workflow order with an example per command, and `tick --json-logs` / `--quiet` for services."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import typer.main
from typer.testing import CliRunner

from campaign_engine.cli import app
from campaign_engine.core.config import Settings
from campaign_engine.engine.launch import launch
from campaign_engine.store.db import Database
from tests.conftest import SmtpSink
from tests.helpers import campaign_cli, import_with_reps, write_csv

REP = "dana.reyes@gitlab-demo.example"
PANELS = ["1. Set up", "2. Launch and send", "3. Follow up", "4. Keep people out",
          "5. Integrations"]  # fmt: skip


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2021, 4, day, hour, tzinfo=UTC)


def launched(db: Database, settings: Settings, tmp_path: Path, count: int) -> None:
    """`count` SMB contacts enrolled in premium-to-ultimate from 2021-04-27."""
    rows = [[f"p{i}@tiny.example", "Pat", "Smith", "Developer", "Tiny Co", "12", "", REP, ""]
            for i in range(count)]  # fmt: skip
    assert import_with_reps(db, write_csv(tmp_path / "c.csv", rows), at(20)).rejected == []
    launch(db, settings, "premium-to-ultimate", date(2021, 4, 27), at(20), name="P2U")


def test_root_help_lists_the_panels_in_workflow_order_with_plain_flags(settings: Settings) -> None:
    result = campaign_cli(settings, "--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    positions = [text.index(panel) for panel in PANELS]
    assert positions == sorted(positions), text
    assert "<bool>" not in text
    # within a panel, workflow order too: the config, the schema and the import before the checks
    rows = [line.split()[1] for line in text.splitlines() if line.startswith("│ ")]
    rows = [name for name in rows if not name.startswith("-")]
    assert rows[:10] == [
        "init", "db", "import", "imports", "users", "dkim", "doctor", "lint", "rehearse", "launch"
    ], rows  # fmt: skip


def test_every_root_command_and_group_has_an_example(settings: Settings) -> None:
    launch_help = campaign_cli(settings, "launch", "--help")
    assert launch_help.returncode == 0, launch_help.stderr
    assert "Example: campaign launch premium-to-ultimate --start 2021-04-27 --dry-run" in (
        launch_help.stdout
    )
    for name in ["db", "import", "tick", "run", "status", "exclude", "webhooks", "stages"]:
        result = campaign_cli(settings, name, "--help")
        assert result.returncode == 0, result.stderr
        assert f"Example: campaign {name} " in result.stdout, result.stdout


def test_tick_json_logs_prints_one_json_object_per_line_with_the_counts(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    launched(db, settings, tmp_path, 3)
    result = campaign_cli(settings, "tick", "--now", at(27, 10).isoformat(), "--json-logs")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    ticks = [line for line in lines if line["message"].startswith("tick: ")]
    assert len(ticks) == 1, result.stderr
    entry = ticks[0]
    assert entry["level"] == "INFO" and entry["logger"].startswith("campaign_engine")
    assert datetime.fromisoformat(entry["time"]).tzinfo is not None
    assert entry["counts"]["sent"] == 3
    assert entry["seconds"] and all(isinstance(s, float) for s in entry["seconds"].values())
    assert len(smtp_sink.messages) == 3
    assert "3 sent" in result.stdout  # the summary line on stdout stays as it was


def test_tick_logs_its_line_by_default_and_quiet_drops_info_lines(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    launched(db, settings, tmp_path, 2)
    plain = campaign_cli(settings, "tick", "--now", at(26, 10).isoformat())  # nothing due yet
    assert plain.returncode == 0, plain.stderr
    assert "INFO campaign_engine.cli.campaigns: tick: 0 queued" in plain.stderr
    quiet = campaign_cli(settings, "tick", "--now", at(27, 10).isoformat(), "--quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert "INFO" not in quiet.stderr
    assert "2 sent" in quiet.stdout
    assert len(smtp_sink.messages) == 2


def test_every_subcommand_shows_a_valid_example_and_plain_flags() -> None:
    """Each command's help ends with an example that names it and only options it has, and
    no flag shows a `<bool>` placeholder (walked in-process: there are dozens of commands)."""
    root = typer.main.get_command(app)
    runner = CliRunner()
    checked = 0

    def walk(command: Any, path: list[str]) -> None:
        nonlocal checked
        if command.hidden:
            return
        text = runner.invoke(app, [*path, "--help"], terminal_width=400).output
        assert "<bool>" not in text, (path, text)
        if path:
            example = text.split("Example: ", 1)[1].strip()
            words = shlex.split(example.split("| ")[-1])
            assert words[0] == "campaign", example
            target, named, rest = root, list[str](), words[1:]
            while rest and rest[0] in getattr(target, "commands", {}):
                named.append(rest[0])
                target = target.commands[rest.pop(0)]
            assert named[: len(path)] == path, (path, example)
            options = {opt for param in target.params for opt in param.opts + param.secondary_opts}
            assert {word for word in rest if word.startswith("--")} <= options, (path, example)
            checked += 1
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(root, [])
    assert checked > 60
