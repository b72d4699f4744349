"""The report dashboard: one HTML page with the figures and inline SVG charts (no JS, no CDN).

`render_dashboard(report)` is what the web app serves at /dashboard and what
`campaign report --format html` writes. The page shows the numbers of `report_to_dict(report)`,
the very dict the JSON export dumps, and tags each with `data-path` and `data-value`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import Markup

from campaign_engine.reporting.charts import Bar, Series, funnel_svg, time_series_svg
from campaign_engine.reporting.report_model import Report, report_to_dict
from campaign_engine.sending.templating import template_environment

__all__ = ["FIGURE_COLUMNS", "TEMPLATE", "dashboard_context", "render_dashboard", "show"]

TEMPLATE = "web/dashboard.html.j2"
DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

# Figures columns in reading order: (field, column heading).
FIGURE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("enrolled", "Enrolled"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("bounced", "Bounced"),
    ("opens_unique", "Opened (contacts)"),
    ("opens_total", "Opens"),
    ("clicks_unique", "Clicked (contacts)"),
    ("clicks_total", "Clicks"),
    ("ctor", "Click-to-open"),
    ("contact_page_visits", "Contact page visits"),
    ("contact_requests", "Contact requests"),
    ("replies", "Replies"),
    ("auto_replies", "Auto-replies"),
    ("unsubscribes", "Unsubscribes"),
    ("complaints", "Complaints"),
    ("excluded", "Excluded"),
)
MACHINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("apple_opens", "Apple privacy opens"),
    ("scanner_opens", "Scanner opens"),
    ("scanner_clicks", "Scanner clicks"),
)


def render_dashboard(report: Report, templates_dir: Path | None = None) -> str:
    """The dashboard page for this report (sandboxed Jinja2, HTML autoescaped)."""
    env = template_environment(templates_dir or DEFAULT_TEMPLATES, pages=True, trim=True)
    env.filters["show"] = show
    return env.get_template(TEMPLATE).render(**dashboard_context(report))


def dashboard_context(report: Report) -> dict[str, Any]:
    """What `_dashboard_body.html.j2` shows (the page here, the console inside its menu);
    its environment needs the `show` filter."""
    data = report_to_dict(report)
    return {
        "report": data,
        "charts": [_charts(campaign) for campaign in data["campaigns"]],
        "figure_columns": FIGURE_COLUMNS,
        "machine_columns": MACHINE_COLUMNS,
    }


def show(value: Any, rate: bool = False) -> str:
    """How a number reads on the page: rates as percentages, missing values as a dash."""
    if value is None:
        return "–"
    if rate:
        return f"{value * 100:.1f}%"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _charts(campaign: dict[str, Any]) -> dict[str, Markup]:
    days = campaign["daily"]
    daily = time_series_svg(
        f"Human engagement per day ({campaign['timezone']})",
        [d["day"] for d in days],
        [
            Series("opens", [d["opens"] for d in days]),
            Series("clicks", [d["clicks"] for d in days]),
            Series("contact requests", [d["requests"] for d in days]),
        ],
        y_label="events per day",
        x_label="day (MM-DD)",
    )
    groups = [
        (
            f"Email {s['step']}",
            [
                Bar("sent", s["figures"]["sent"]),
                Bar("delivered", s["figures"]["delivered"]),
                Bar("opened", s["figures"]["opens_unique"]),
                Bar("clicked", s["figures"]["clicks_unique"]),
                Bar("asked for contact", s["figures"]["contact_requests"]),
            ],
        )
        for s in campaign["steps"]
    ]
    funnel = funnel_svg(
        "Funnel per email (contacts; % of sent)", groups, "contacts (log scale)", log=True
    )
    # Our own generator escapes every text it writes, so the SVG is safe to inline.
    return {"daily": Markup(daily), "funnel": Markup(funnel)}
