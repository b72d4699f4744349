"""What the commands reading a CSV share (import, exclude, stages import).

Their options, a progress bar while reading, and the report of rejected rows: listed on stderr
with file:line and reason, optionally written to a CSV, and exit 1 when there is any.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich import progress as rich_progress
from rich.markup import escape

from campaign_engine.audience import imports
from campaign_engine.audience.csvfile import FileReport, Progress, write_errors
from campaign_engine.cli.app import err, out
from campaign_engine.core.errors import ImportRejected

EncodingOption = Annotated[
    str | None, typer.Option("--encoding", help="Override the detected encoding.")
]
StrictOption = Annotated[
    bool, typer.Option("--strict", help="Apply nothing when any row is rejected.")
]
ErrorsOption = Annotated[
    Path | None, typer.Option("--errors", help="Also write rejected rows to this CSV.")
]


SHOWN = 20  # warnings and rejected rows listed on stderr when a file has them all


def print_import(
    result: imports.ImportResult,
    what: str,
    errors: Path | None = None,
    details: Path | None = None,
) -> None:
    """The summary, then the problems; `details`: the file every row's outcome was written to
    (then only the first warnings and rejected rows are listed)."""
    out.print(
        f"{result.file}: {result.rows} row(s): {result.created} {what} created, "
        f"{result.updated} updated, {result.unchanged} unchanged, {len(result.rejected)} rejected,"
        f" {len(result.warnings)} warning(s)"
    )
    if result.import_id is not None:
        out.print(
            f"import {result.import_id} recorded; undo it as a whole:"
            f" campaign imports revert {result.import_id} --reason '...'"
        )
    if details is not None:
        out.print(f"details of every row written to {details}")
    outcome = applied_outcome(result.applied)
    report_rejected(result, outcome, errors, SHOWN if details else None, details)


def applied_outcome(applied: bool) -> str:
    return "valid rows were applied" if applied else "nothing was applied (--strict)"


def report_rejected(
    report: FileReport,
    outcome: str,
    errors: Path | None,
    shown: int | None = None,
    kept: Path | None = None,
) -> None:
    """Notes, then the warnings and rejected rows on stderr (every one, or the first `shown`
    of each when file `kept` has them all; rejected also in --errors FILE); exit 1 when a row
    was rejected."""
    file, rejected = report.file, report.rejected
    for note in report.notes:
        out.print(f"note: {note}")
    for warning in report.warnings[:shown]:
        err.print(f"[yellow]warning[/yellow] {escape(str(warning))}", markup=True)
    for problem in rejected[:shown]:
        err.print(f"[red]rejected[/red] {escape(str(problem))}", markup=True)
    if shown is not None:
        left_out = max(0, len(report.warnings) - shown) + max(0, len(rejected) - shown)
        if left_out:
            err.print(f"… {left_out:,} more warning(s) and rejected row(s) in {kept}")
    if errors is not None:
        write_errors(errors, rejected)
        err.print(f"rejected rows written to {errors}")
    if rejected:
        raise ImportRejected(f"{len(rejected)} row(s) of {file} rejected ({outcome})")


@contextmanager
def progress_bar(label: str) -> Iterator[Progress]:
    """A byte-based progress bar on stderr (shown only on a terminal) fed by read_rows."""
    columns = (
        rich_progress.TextColumn("{task.description}"),
        rich_progress.BarColumn(),
        rich_progress.DownloadColumn(),
        rich_progress.TransferSpeedColumn(),
        rich_progress.TimeRemainingColumn(),
    )
    with rich_progress.Progress(
        *columns, console=err, transient=True, disable=not err.is_terminal
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
