"""Ops exclusions: `campaign exclude` and `campaign exclusions list|remove|apply|revert|uploads|deadline`."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from campaign_engine.audience import exclusion_apply, exclusions
from campaign_engine.audience.csvfile import csv_safe
from campaign_engine.audience.exclusion_file import ExclusionResult
from campaign_engine.cli.app import (
    DEFAULT_LIMIT,
    ByOption,
    HiddenNowOption,
    LimitOption,
    ListFormat,
    ListFormatOption,
    OutOption,
    command_group,
    context_of,
    err,
    jsonable,
    minute,
    os_user,
    out,
    parse_now,
    print_more,
    subcommand,
    write_csv_rows,
)
from campaign_engine.cli.csv_input import (
    EncodingOption,
    ErrorsOption,
    StrictOption,
    applied_outcome,
    progress_bar,
    report_rejected,
)
from campaign_engine.cli.tables import print_list, print_rows
from campaign_engine.store import queries

exclusions_app = command_group(
    help="List, remove, apply previews of, revert uploads of, and set deadlines for ops"
    " exclusions.",
    no_args_is_help=True,
)
SHOWN = 10  # rows of each list `exclude` prints; --out FILE has them all


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
        bool,
        typer.Option(
            "--dry-run",
            help="Preview: report what would happen and keep it as a preview to apply"
            " (`exclusions apply ID`); no exclusion is stored.",
        ),
    ] = False,
    strict: StrictOption = False,
    errors: ErrorsOption = None,
    out_file: OutOption = None,
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
    _print_exclusions(result, out_file)
    outcome = "preview: nothing was stored" if dry_run else applied_outcome(result.applied)
    report_rejected(result, outcome, errors)


@subcommand(exclusions_app, "apply", "campaign exclusions apply 12")
def exclusions_apply(
    ctx: typer.Context,
    upload_id: Annotated[
        int, typer.Argument(metavar="PREVIEW_ID", help="From `exclude --dry-run`.")
    ],
    by: ByOption = None,
    out_file: OutOption = None,
    now: HiddenNowOption = None,
) -> None:
    """Apply a saved preview as it was read: no second upload of the file."""
    c = context_of(ctx)
    result = exclusion_apply.apply_preview(c.db, upload_id, by or os_user(), parse_now(now))
    _print_exclusions(result, out_file)


@subcommand(
    exclusions_app, "revert", "campaign exclusions revert 12 --reason 'wrong file: Q2 list'"
)
def exclusions_revert(
    ctx: typer.Context,
    upload_id: Annotated[
        int, typer.Argument(metavar="UPLOAD_ID", help="From `exclusions uploads`.")
    ],
    reason: Annotated[str, typer.Option(help="Why (required; kept in the audit log).")] = "",
    by: ByOption = None,
    now: HiddenNowOption = None,
) -> None:
    """Undo an applied upload as a whole: lift every exclusion it recorded, audited."""
    c = context_of(ctx)
    done = exclusion_apply.revert_upload(c.db, upload_id, by or os_user(), reason, parse_now(now))
    before = f" ({done.lifted_before} had been lifted before)" if done.lifted_before else ""
    out.print(
        f"upload {done.upload_id} ({done.file}) reverted: {done.lifted} exclusion(s) lifted"
        f"{before}; `campaign exclusions list --all` shows them as removed"
    )


@subcommand(exclusions_app, "uploads", "campaign exclusions uploads --limit 10")
def exclusions_uploads(
    ctx: typer.Context,
    limit: LimitOption = DEFAULT_LIMIT,
    format: ListFormatOption = ListFormat.table,
) -> None:
    """Exclusion uploads newest first: previews to apply, applied ones to revert."""
    c = context_of(ctx)
    with c.existing_db.session() as session:
        views, total = exclusions.list_uploads(session, limit or 1_000_000_000)
    rows = [
        (str(v.id), v.state, v.file, v.scope, str(v.rows), str(v.added),
         v.applied_by or v.created_by, minute(v.applied_at or v.created_at),
         f"{minute(v.reverted_at)} by {v.reverted_by}: {v.revert_reason}" if v.reverted_at
         else "")
        for v in views
    ]  # fmt: skip
    columns = ("id", "state", "file", "scope", "rows", "added", "by", "at", "reverted")
    print_list("Exclusion uploads", columns, rows, total, format,
               [jsonable(vars(v)) for v in views], right=("id", "rows", "added"))  # fmt: skip


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
    limit: LimitOption = DEFAULT_LIMIT,
    format: ListFormatOption = ListFormat.table,
    now: HiddenNowOption = None,
) -> None:
    """Who excluded whom, when, why, from which file:line (and who removed it)."""
    c = context_of(ctx)
    views = exclusions.list_exclusions(c.existing_db, campaign, all_)
    with c.existing_db.session() as session:
        cid = queries.campaign_by_name(session, campaign).id if campaign else None
        deadlines = exclusion_apply.deadline_statuses(session, parse_now(now), cid)
    if format is ListFormat.json:
        records = [
            {
                **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in vars(x).items()},
                "active": x.removed_at is None,
            }
            for x in views[: limit or None]
        ]
        dl = [
            {"campaign": d.campaign, "deadline": d.deadline.isoformat(), "passed": d.passed}
            for d in deadlines
        ]
        out.print_json(json.dumps({"exclusions": records, "deadlines": dl}))
        return
    for d in deadlines:
        out.print(f"exclusion deadline of {d.campaign!r}: {d.deadline.isoformat()}")
    rows = []
    for x in views[: limit or None]:
        removed = ""
        if x.removed_at:
            removed = f"{minute(x.removed_at)} by {x.removed_by}"
            removed += f": {x.removal_reason}" if x.removal_reason else ""
        rows.append(
            (x.target, x.scope, x.reason, x.source, x.created_by, minute(x.created_at), removed)
        )
    columns = ("target", "scope", "reason", "source", "by", "at", "removed")
    if format is ListFormat.csv:
        write_csv_rows(columns, rows)
        return
    print_rows(f"Exclusions ({len(views)}{', removed included' if all_ else ''})", columns, rows)
    print_more(len(views) - len(rows), "--limit 0 lists them all, --format csv for a file")


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


def _print_exclusions(result: ExclusionResult, out_file: Path | None) -> None:
    """A summary, the first few of each list, and every detail in --out FILE."""
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
    for d in result.deadlines:
        out.print(f"exclusion deadline of {d.campaign!r}: {d.deadline.isoformat()}")
    for d in result.late:
        err.print(
            f"[yellow]warning:[/yellow] the exclusion deadline of {escape(repr(d.campaign))} "
            f"({d.deadline.isoformat()}) has passed; the exclusions still apply to every email "
            "not yet sent",
            markup=True,
        )
    hint = f"all in {out_file}" if out_file else "--out FILE lists them all"
    title = "Contacts it would exclude" if result.dry_run else "Contacts excluded"
    _print_some(title, ("email", "name", "account"),
                [(x.email, x.name, x.account) for x in result.excluded], hint)  # fmt: skip
    _print_some("Already sent before this exclusion",
                ("to", "campaign", "step", "subject", "sent_at"),
                [(s.email, s.campaign, str(s.step), s.subject, minute(s.sent_at))
                 for s in result.already_sent], hint)  # fmt: skip
    _print_some("No contact (yet): they apply if the contact is imported later",
                ("file:line", "entry", "reason"),
                [(f"{result.file}:{e.line}", e.target, e.reason) for e in result.unmatched],
                hint)  # fmt: skip
    if out_file is not None:
        write_details(out_file, result)
        out.print(f"details written to {out_file}")
    if not result.applied and not result.dry_run:
        out.print("nothing was stored (--strict)")
    elif result.dry_run and result.upload_id is not None:
        out.print(
            f"preview {result.upload_id} saved; nothing was stored. Apply it as it was read"
            f" (no second upload): campaign exclusions apply {result.upload_id}"
        )
    elif result.upload_id is not None:
        out.print(
            f"upload {result.upload_id} applied; undo it as a whole:"
            f" campaign exclusions revert {result.upload_id} --reason '...'"
        )


def write_details(path: Path, result: ExclusionResult) -> None:
    """Every contact excluded, email already sent and entry without a contact, as one CSV."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["list", "email", "account_or_campaign", "detail"])
        for x in result.excluded:
            writer.writerow([csv_safe(v) for v in ("excluded", x.email, x.account, x.name)])
        for s in result.already_sent:
            detail = f"step {s.step} {s.subject!r} sent {minute(s.sent_at)}"
            writer.writerow([csv_safe(v) for v in ("already_sent", s.email, s.campaign, detail)])
        for e in result.unmatched:
            where = f"{result.file}:{e.line} {e.reason}".strip()
            writer.writerow([csv_safe(v) for v in ("no_contact", e.target, "", where)])


def _print_some(
    title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]], hint: str
) -> None:
    if not rows:
        return
    print_rows(f"{title} ({len(rows)})", columns, rows[:SHOWN])
    print_more(len(rows) - SHOWN, hint)
