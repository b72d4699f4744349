"""Tables that never cut an email address or a header.

A table is printed as a grid when every address and every word of its headers fits the terminal
whole (other text, and headers between their words, wrap); when the terminal is too narrow for
that, a short labelled table (a funnel) is turned on its side, and any other prints each row as a
block of "column  value" lines. Nothing is ever shortened with "…".
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rich.console import Console
from rich.table import Table

from campaign_engine.cli.app import (
    ListFormat,
    emit_json,
    err,
    out,
    print_more,
    write_csv_rows,
)

__all__ = ["print_list", "print_rows"]

_PADDING = 3  # a grid column's border and padding, in characters
_TURN_ROWS = 12  # a labelled table of at most this many rows turns on its side when narrow
_LONGEST_WORD = 12  # a longer word may wrap mid-word (a path, a time); addresses never do


def print_rows(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Collection[str] = (),
    caption: str | None = None,
    console: Console = out,
    turn: bool = True,
) -> None:
    """Print `rows` under `columns`: a grid when it fits whole; else, for a few rows labelled
    by a first column headed "", the grid turned on its side (a funnel: figures down, rows
    across); else one block per row."""
    whole = [_is_whole(i, rows) for i in range(len(columns))]
    least = [
        max([_longest_word(name)] + [_least(row[i], whole[i], labels=name == "") for row in rows])
        for i, name in enumerate(columns)
    ]
    if _width(least) > console.width:
        turned = [[name, *(row[i] for row in rows)] for i, name in enumerate(columns)]
        if turn and 0 < len(rows) <= _TURN_ROWS and columns[0] == "":
            labels = [row[0] for row in rows]
            print_rows(title, ["", *labels], turned[1:], right=set(labels) if right else (),
                       caption=caption, console=console, turn=False)  # fmt: skip
        else:
            _print_blocks(title, columns, rows, caption, console)
        return
    widths = _fit(least, _natural(columns, rows), console.width - _width([0] * len(columns)))
    table = Table(title=title, caption=caption)
    for i, name in enumerate(columns):
        table.add_column(
            name,
            justify="right" if name in right else "left",
            width=widths[i],
            no_wrap=whole[i],
            overflow="fold",
        )
    for row in rows:
        table.add_row(*row)
    console.print(table)


def print_list(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    total: int,
    format: ListFormat,
    records: Sequence[dict[str, object]],
    *,
    right: Collection[str] = (),
    empty: str = "",
) -> None:
    """A list command's output, its `rows` (and the same `records`) already cut to `--limit`
    out of `total`: a table with "… N more" under it, CSV or JSON on stdout (then how many were
    left out goes to stderr, so the file stays whole); `empty` is said instead of an empty
    table."""
    left_out = total - len(rows)
    if format is ListFormat.json:
        emit_json(list(records))
    elif format is ListFormat.csv:
        write_csv_rows(columns, rows)
    elif not rows and empty:
        out.print(empty)
    else:
        shown = f"{len(rows):,} of {total:,}" if left_out > 0 else f"{total:,}"
        print_rows(f"{title} ({shown})", columns, rows, right=right)
    if format is ListFormat.table:
        print_more(left_out, "--limit 0 lists them all, --format csv for a file")
    elif left_out > 0:
        err.print(f"… {left_out:,} more left out (--limit 0 lists them all)")


def _natural(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    return [max([len(name)] + [len(row[i]) for row in rows]) for i, name in enumerate(columns)]


def _fit(least: list[int], natural: list[int], room: int) -> list[int]:
    """Column widths within `room`: each as wide as its content, narrowed toward its least
    width in proportion to what it can give when they do not all fit."""
    widths = [max(n, m) for n, m in zip(natural, least, strict=True)]
    excess = sum(widths) - room
    slack = [w - m for w, m in zip(widths, least, strict=True)]
    if excess <= 0 or not sum(slack):
        return widths
    cuts = [excess * s // sum(slack) for s in slack]
    for i in sorted(range(len(widths)), key=lambda i: slack[i] - cuts[i], reverse=True):
        if sum(cuts) >= excess:
            break
        if cuts[i] < slack[i]:
            cuts[i] += 1
    return [w - c for w, c in zip(widths, cuts, strict=True)]


def _width(least: Sequence[int]) -> int:
    return sum(least) + _PADDING * len(least) + 1


def _is_whole(index: int, rows: Sequence[Sequence[str]]) -> bool:
    """A column of addresses (or other one-word values with an @): printed whole."""
    return any("@" in row[index] and " " not in row[index].strip() for row in rows)


def _least(cell: str, whole: bool, labels: bool) -> int:
    """The narrowest a cell may be: an address whole; a row label (the column headed "")
    between its words; other text may break a long word (a path) too."""
    if whole:
        return len(cell)
    return _longest_word(cell) if labels else min(_LONGEST_WORD, _longest_word(cell))


def _longest_word(text: str) -> int:
    """A header wraps between its words, never inside one."""
    return max((len(word) for word in text.split()), default=0)


def _print_blocks(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    caption: str | None,
    console: Console,
) -> None:
    console.print(title)
    label = max(len(name) for name in columns)
    for number, row in enumerate(rows, 1):
        console.print(f"── {number} " + "─" * max(0, min(console.width, 40) - len(str(number)) - 4))
        for name, cell in zip(columns, row, strict=True):
            console.print(f"{name:<{label}}  {cell}")
    if caption:
        console.print(caption)
