"""Ops exclusions: `campaign exclude` and `campaign exclusions list|remove|deadline`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from campaign_engine.audience import exclusion_apply, exclusions
from campaign_engine.audience.exclusion_file import ExclusionResult
from campaign_engine.cli.app import (
    ByOption,
    Format,
    FormatOption,
    HiddenNowOption,
    command_group,
    context_of,
    err,
    minute,
    os_user,
    out,
    parse_now,
    subcommand,
)
from campaign_engine.cli.csv_input import (
    EncodingOption,
    ErrorsOption,
    StrictOption,
    applied_outcome,
    progress_bar,
    report_rejected,
)
from campaign_engine.store import queries

exclusions_app = command_group(
    help="List, remove and set deadlines for ops exclusions.", no_args_is_help=True
)


def exclude(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="Target list (exclude,reason,email...), an email or domain list, "
            "or one header-less column of addresses.",
        ),
    ],
    campaign: Annotated[
        str | None, typer.Option(help="Only this campaign (default: every campaign).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would happen; store nothing.")
    ] = False,
    strict: StrictOption = False,
    errors: ErrorsOption = None,
    encoding: EncodingOption = None,
    by: ByOption = None,
    now: HiddenNowOption = None,
) -> None:
    """Exclude contacts or whole domains; checked at send time, so late uploads still stop mail."""
    c = context_of(ctx)
    with progress_bar(f"excluding from {file.name}") as progress:
        result = exclusion_apply.exclude_file(
            c.db,
            file,
            parse_now(now),
            campaign,
            by or os_user(),
            dry_run,
            strict,
            encoding,
            progress,
        )
    _print_exclusions(result)
    outcome = "dry run: nothing was stored" if dry_run else applied_outcome(result.applied)
    report_rejected(result, outcome, errors)


@subcommand(
    exclusions_app,
    "list",
    "campaign exclusions list --campaign 'premium-to-ultimate 2021-04-27' --format json",
)
def exclusions_list(
    ctx: typer.Context,
    campaign: Annotated[
        str | None, typer.Option(help="This campaign's exclusions and the global ones.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include removed exclusions.")] = False,
    format: FormatOption = Format.table,
    now: HiddenNowOption = None,
) -> None:
    """Who excluded whom, when, why, from which file:line (and who removed it)."""
    c = context_of(ctx)
    views = exclusions.list_exclusions(c.existing_db, campaign, all_)
    with c.existing_db.session() as session:
        cid = queries.campaign_by_name(session, campaign).id if campaign else None
        deadlines = exclusion_apply.deadline_statuses(session, parse_now(now), cid)
    if format is Format.json:
        records = [
            {
                **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in vars(x).items()},
                "active": x.removed_at is None,
            }
            for x in views
        ]
        dl = [
            {"campaign": d.campaign, "deadline": d.deadline.isoformat(), "passed": d.passed}
            for d in deadlines
        ]
        out.print_json(json.dumps({"exclusions": records, "deadlines": dl}))
        return
    for d in deadlines:
        out.print(f"exclusion deadline of {d.campaign!r}: {d.deadline.isoformat()}")
    table = Table(title=f"Exclusions ({len(views)}{', removed included' if all_ else ''})")
    columns = ("target", "scope", "reason", "source", "by", "at", "removed")
    for column in columns:
        table.add_column(column)
    for x in views:
        removed = ""
        if x.removed_at:
            removed = f"{minute(x.removed_at)} by {x.removed_by}"
            removed += f": {x.removal_reason}" if x.removal_reason else ""
        table.add_row(
            x.target, x.scope, x.reason, x.source, x.created_by, minute(x.created_at), removed
        )
    out.print(table)


@subcommand(
    exclusions_app, "remove", "campaign exclusions remove @acme.example --reason 'deal closed'"
)
def exclusions_remove(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="EMAIL, or DOMAIN (acme.example or @acme.example).")
    ],
    campaign: Annotated[
        str | None, typer.Option(help="The campaign the exclusion was for (default: global).")
    ] = None,
    by: ByOption = None,
    reason: Annotated[str, typer.Option(help="Why it is lifted (kept in the audit log).")] = "",
    now: HiddenNowOption = None,
) -> None:
    """Lift an exclusion; it stays listed (with --all) as removed, by whom and why."""
    c = context_of(ctx)
    count = exclusions.remove_exclusion(
        c.db, target, parse_now(now), campaign, by or os_user(), reason
    )
    out.print(
        f"removed {count} exclusion(s) of {target}; `campaign exclusions list --all` shows it"
    )


@subcommand(
    exclusions_app,
    "deadline",
    "campaign exclusions deadline 'premium-to-ultimate 2021-04-27' 2021-05-03",
)
def exclusions_deadline(
    ctx: typer.Context,
    campaign: Annotated[str, typer.Argument(help="Campaign name.")],
    day: Annotated[
        datetime, typer.Argument(formats=["%Y-%m-%d"], help="Last day for exclusions, YYYY-MM-DD.")
    ],
    by: ByOption = None,
    now: HiddenNowOption = None,
) -> None:
    """Set the campaign's exclusion deadline; later uploads still apply but warn."""
    c = context_of(ctx)
    exclusion_apply.set_deadline(c.db, campaign, day.date(), by or os_user(), parse_now(now))
    out.print(f"exclusion deadline of {campaign!r}: {day.date().isoformat()}")


def _print_exclusions(result: ExclusionResult) -> None:
    scope = f"campaign {result.campaign!r}" if result.campaign else "all campaigns"
    verb = "would be excluded" if result.dry_run else "excluded"
    out.print(
        f"{result.file}: {result.contacts_excluded} contact(s) {verb} ({scope}); "
        f"{result.added} new exclusion(s), {result.already_active} already active, "
        f"{result.kept_rows} row(s) marked keep, {len(result.unmatched)} matched no contact "
        f"(kept: they apply if the contact is imported later), {len(result.rejected)} rejected"
    )
    out.print(
        f"{result.file}: {result.rows} row(s): {result.added} new, {result.already_active} "
        f"already active, {result.kept_rows} keep, {result.duplicate_rows} duplicate, "
        f"{len(result.rejected)} rejected"
    )
    if result.dry_run:
        out.print("dry run: nothing was stored")
    elif not result.applied:
        out.print("nothing was stored (--strict)")
    for d in result.deadlines:
        out.print(f"exclusion deadline of {d.campaign!r}: {d.deadline.isoformat()}")
    for d in result.late:
        err.print(
            f"[yellow]warning:[/yellow] the exclusion deadline of {escape(repr(d.campaign))} "
            f"({d.deadline.isoformat()}) has passed; the exclusions still apply to every email "
            "not yet sent",
            markup=True,
        )
    for entry in result.unmatched:
        out.print(f"  no contact (yet): {result.file}:{entry.line}: {entry.target}")
    if result.already_sent:
        table = Table(title="Already sent before this exclusion")
        for column in ("to", "campaign", "step", "subject", "sent_at"):
            table.add_column(column)
        for s in result.already_sent:
            table.add_row(s.email, s.campaign, str(s.step), s.subject, minute(s.sent_at))
        out.print(table)
