"""The SVG charts: well-formed, escaped, labelled, black and grey, no script."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from campaign_engine.reporting.charts import Bar, Series, funnel_svg, nice_ceiling, time_series_svg

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (3, 5), (5, 5), (7, 10), (12, 20), (51, 100), (200, 200)]
)
def test_nice_ceiling(value: int, ceiling: int) -> None:
    assert nice_ceiling(value) == ceiling


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_time_series_has_labelled_axes_legend_and_one_line_per_series() -> None:
    svg = time_series_svg(
        "Per day <b>",
        ["2021-04-27", "2021-04-28", "2021-04-29"],
        [Series("opens", [3, 0, 1]), Series("clicks & co", [1, 1, 0])],
        y_label="events per day",
        x_label="day",
    )
    root = ET.fromstring(svg)  # well-formed XML: every text escaped
    assert root.tag == f"{SVG}svg" and root.get("aria-label") == "Per day <b>"
    words = texts(svg)
    assert {"Per day <b>", "events per day", "day", "opens", "clicks & co"} <= set(words)
    assert {"04-27", "04-28", "04-29"} <= set(words)
    assert {"0", "1", "2", "3"} <= set(words)  # whole-number y ticks up to 3 (axis top 5)
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 2 and lines[1].get("stroke-dasharray") == "6 3"
    colours = {e.get("stroke") for e in root.iter() if e.get("stroke")} | {
        e.get("fill") for e in root.iter() if e.get("fill") not in (None, "none")
    }
    assert all(c[1:3] == c[3:5] == c[5:7] for c in colours), colours  # greys only
    assert "<script" not in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_empty_series_still_draws_axes() -> None:
    root = ET.fromstring(time_series_svg("Nothing", [], [Series("opens", [])]))
    assert len(list(root.iter(f"{SVG}line"))) >= 2


def test_funnel_bars_are_proportional_and_labelled() -> None:
    svg = funnel_svg(
        "Funnel",
        [("Email 1", [Bar("sent", 10), Bar("opened", 5)]), ("Email 2", [Bar("sent", 0)])],
    )
    root = ET.fromstring(svg)
    widths = [float(r.get("width", 0)) for r in root.iter(f"{SVG}rect")][1:]  # after background
    assert widths[0] == pytest.approx(2 * widths[1]) and widths[2] == 0
    assert {"Email 1", "Email 2", "sent", "opened", "10", "5 (50.0%)", "contacts"} <= set(
        texts(svg)
    )


def test_a_log_funnel_keeps_a_few_clicks_visible_next_to_many_sends() -> None:
    svg = funnel_svg(
        "Funnel",
        [("Email 1", [Bar("sent", 19_623), Bar("opened", 64), Bar("clicked", 20)])],
        x_label="contacts (log scale)",
        log=True,
    )
    root = ET.fromstring(svg)
    sent, opened, clicked = [float(r.get("width", 0)) for r in root.iter(f"{SVG}rect")][1:]
    assert clicked > sent / 4 and sent > opened > clicked  # linear: clicked would be 0.1% of sent
    assert {"19623", "64 (0.3%)", "20 (0.1%)", "0", "10", "100000"} <= set(texts(svg))
