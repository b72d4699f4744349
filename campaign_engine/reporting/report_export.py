"""The report as JSON and as CSV (one row per campaign, step, segment, persona, offer, rep,
stage and day)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from campaign_engine.audience.csvfile import csv_safe
from campaign_engine.reporting.report_model import Report, report_to_dict

__all__ = ["csv_rows", "to_csv", "to_json"]


def to_json(report: Report, delivery: list[dict[str, Any]] | None = None) -> str:
    """The report as JSON; with `delivery` (reports.campaign_statuses as dicts), each campaign
    also carries its per-step message states and skip reasons under "delivery"."""
    data = report_to_dict(report)
    by_name = {status["name"]: status for status in delivery or []}
    for campaign in data["campaigns"]:
        if campaign["name"] in by_name:
            campaign["delivery"] = by_name[campaign["name"]]
    return json.dumps(data, indent=2, ensure_ascii=False)


def csv_rows(report: Report) -> list[dict[str, Any]]:
    """Flat rows: `campaign`, `section`, `item`, then that section's numbers."""
    rows: list[dict[str, Any]] = []
    for c in report_to_dict(report)["campaigns"]:

        def add(section: str, item: object, values: dict[str, Any], name: str = c["name"]) -> None:
            rows.append({"campaign": name, "section": section, "item": item, **values})

        add("campaign", c["name"], {**c["totals"], "touched": c["touched"], "sao": c["sao"]})
        for step in c["steps"]:
            add("step", f"{step['step']}: {step['subject']}", step["figures"])
        for segment in c["segments"]:
            add("segment", segment["segment"], segment["figures"])
        for section, name in (("personas", "persona"), ("roles", "role")):
            for part in c[section]:
                rates = {k: v for k, v in part.items() if k not in (name, "figures")}
                add(name, part[name], {**part["figures"], **rates})
        for offer in c["offers"]:
            add("offer", offer["name"], {k: v for k, v in offer.items() if k != "name"})
        for rep in c["reps"]:
            add("rep", rep["rep"] or rep["name"], {k: v for k, v in rep.items() if k != "rep"})
        for stage in c["stages"]:
            add(
                "stage",
                f"{stage['stage']} - {stage['name']}",
                {k: v for k, v in stage.items() if k not in ("stage", "name")},
            )
        if c["longest_stage"]:
            longest = c["longest_stage"]
            add(
                "longest stage",
                f"{longest['stage']} - {longest['name']}",
                {"average_days": longest["average_days"]},
            )
        for day in c["daily"]:
            add("day", day["day"], {k: v for k, v in day.items() if k != "day"})
        for day, sent in c["sent_per_local_day"].items():
            add("sent per local day", day, {"sent": sent})
    return rows


def to_csv(report: Report) -> str:
    """CSV for spreadsheets; every cell goes through csv_safe (no formula injection)."""
    rows = csv_rows(report)
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_safe(row.get(column)) for column in columns])
    return buffer.getvalue()
