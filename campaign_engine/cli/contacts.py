"""Contacts: `campaign import contacts|reps`, `campaign contacts set-mode|export|forget` and
`campaign contact-request`."""

from __future__ import annotations

import csv
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from campaign_engine.audience import import_undo, imports, privacy
from campaign_engine.audience.csvfile import csv_safe
from campaign_engine.cli.accounts import alert_now
from campaign_engine.cli.app import (
    ByOption,
    CampaignOption,
    NowOption,
    RepOption,
    command_group,
    context_of,
    err,
    os_user,
    out,
    parse_now,
    subcommand,
)
from campaign_engine.cli.csv_input import (
    EncodingOption,
    ErrorsOption,
    StrictOption,
    print_import,
    progress_bar,
)
from campaign_engine.reps import outreach
from campaign_engine.sending import recovery
from campaign_engine.store import queries
from campaign_engine.store.db import Database

import_app = command_group(help="Import contacts or reps from CSV.", no_args_is_help=True)
contacts_app = command_group(
    help="Change contacts; export or erase what is held on one.", no_args_is_help=True
)


class Mode(StrEnum):
    A = "A"
    B = "B"
    C = "C"


@subcommand(import_app, "contacts", "campaign import contacts contacts.csv --out rows.csv")
def import_contacts_command(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV with a header row.")
    ],
    encoding: EncodingOption = None,
    strict: StrictOption = False,
    errors: ErrorsOption = None,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            dir_okay=False,
            help="Write every row's outcome to this CSV (created, updated with the fields"
            " changed, warning, rejected); stderr then lists only the first problems.",
        ),
    ] = None,
    by: ByOption = None,
) -> None:
    """Upsert contacts by email; prints a summary, rejected rows are listed with file:line and
    reason (exit 1). Each import is recorded: `campaign imports revert ID` undoes it."""
    c = context_of(ctx)
    moment = parse_now(None)
    with progress_bar(f"importing {file.name}") as progress:
        result = imports.import_contacts(
            c.db, file, moment, encoding, strict, progress, by=by or os_user()
        )
    if result.applied:
        alert_now(c, moment)  # accounts that got their rep: their open requests follow
    if out_file is not None:
        write_import_details(c.db, out_file, result)
    print_import(result, "contacts", errors, out_file)


def write_import_details(db: Database, path: Path, result: imports.ImportResult) -> None:
    """One CSV row per contact created or updated (with the fields changed), per warning and
    per rejected row."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["outcome", "email", "file:line", "detail"])
        if result.import_id is not None:
            with db.session() as session:
                for outcome, email, detail in import_undo.import_details(session, result.import_id):
                    writer.writerow([csv_safe(v) for v in (outcome, email, "", detail)])
        for kind, problems in (("warning", result.warnings), ("rejected", result.rejected)):
            for p in problems:
                detail = f"{p.field}: {p.reason}" if p.field else p.reason
                writer.writerow([csv_safe(v) for v in (kind, "", f"{p.file}:{p.line}", detail)])


@subcommand(import_app, "reps", "campaign import reps reps.csv")
def import_reps_command(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV: email,name,title,timezone.")
    ],
) -> None:
    """Upsert sales reps (name, title, time zone) by email."""
    c = context_of(ctx)
    moment = parse_now(None)
    result = imports.import_reps(c.db, file, now=moment)
    alert_now(c, moment)  # accounts that waited for these reps: their open requests follow
    print_import(result, "reps")


@subcommand(contacts_app, "set-mode", "campaign contacts set-mode ana@acme.example B")
def contacts_set_mode(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL")],
    mode: Annotated[
        Mode, typer.Argument(help="A do nothing, B sales direct only, C marketing email.")
    ],
    rep: RepOption = None,
) -> None:
    """Change a contact's outreach mode; automated sends follow it from the next tick."""
    c = context_of(ctx)
    with c.db.session() as session:
        change = outreach.set_outreach_mode(
            session, c.settings, email, mode.value, parse_now(None), rep
        )
    out.print(change.summary())


@subcommand(contacts_app, "export", "campaign contacts export ana@acme.example > ana.json")
def contacts_export_command(
    ctx: typer.Context, email: Annotated[str, typer.Argument(help="The person's address.")]
) -> None:
    """Print all data held on EMAIL as JSON (for a data subject access request)."""
    data = privacy.export_person(context_of(ctx).existing_db, email)
    print(json.dumps(data, indent=2, ensure_ascii=False))


@subcommand(contacts_app, "forget", "campaign contacts forget ana@acme.example --yes")
def contacts_forget_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The person's address.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase EMAIL's personal data; keep only a hashed suppression so it is never mailed again."""
    if not yes and not typer.confirm(f"Erase everything held on {email}? This cannot be undone"):
        raise typer.Abort()
    report = privacy.forget_person(context_of(ctx).db, email, parse_now(None))
    out.print(
        f"{report.email}: contact {'erased' if report.contact_erased else 'not found'}, "
        f"{report.messages} message(s) and {report.events} event(s) cleared, "
        f"{report.consent_records} consent record(s) deleted; hashed suppression kept"
    )


def contact_request(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The contact who asked (replied, called...).")],
    note: Annotated[str, typer.Option(help="What they said; goes into the rep's alert.")] = "",
    preferred_time: Annotated[str, typer.Option(help="When they would like to talk.")] = "",
    now: NowOption = None,
) -> None:
    """Record a contact request by hand: out of automation, sales direct, the rep is alerted."""
    from campaign_engine.reps.alerts import NOBODY
    from campaign_engine.reps.contact_requests import clean_form, record_contact_request

    c = context_of(ctx)
    moment = parse_now(now)
    form = clean_form({"message": note, "preferred_time": preferred_time})
    result = record_contact_request(
        c.db, c.settings, moment, email=email, form=form, source="manual"
    )
    sent = alert_now(c, moment)[1]
    step = f"email {result.step}" if result.step else "no email sent yet"
    out.print(
        f"Contact request recorded for {result.contact_email} ({step}): "
        f"{result.stopped_enrollments} automated enrollment(s) stopped, "
        f"{result.skipped_messages} queued message(s) skipped, outreach mode now B."
    )
    if result.repeated:
        out.print("The same request was recorded moments ago: no second alert.")
        return
    if result.cancelled_drafts:
        out.print(f"{result.cancelled_drafts} open sequence draft(s) to them cancelled.")
    who = ", ".join(result.alerted)
    if result.unassigned and not who:
        err.print(
            f"[yellow]warning:[/yellow] {escape(NOBODY)}; give the account a rep:"
            " `campaign accounts assign ACCOUNT REP_EMAIL`",
            markup=True,
        )
    elif result.unassigned:
        out.print(
            f"No rep owns the account: the alert {'went' if sent else 'is queued'} to the"
            f" unassigned fallback ({who}). `campaign accounts assign ACCOUNT REP_EMAIL` moves"
            " the request to a rep and alerts them."
        )
    elif sent:
        out.print(f"Alert sent to {result.rep_name or result.rep_email} <{result.rep_email}>.")
    else:
        out.print(f"Alert to {result.rep_email} queued: the next tick retries it.")


@subcommand(contacts_app, "resume", "campaign contacts resume ana@acme.example bo@acme.example")
def contacts_resume(
    ctx: typer.Context,
    emails: Annotated[list[str], typer.Argument(help="Contacts stopped by a bounce.")],
    campaign: CampaignOption = None,
    now: NowOption = None,
) -> None:
    """Put contacts stopped by a bounce back in their campaign, at the step that bounced
    (after `campaign suppress remove EMAIL`)."""
    c = context_of(ctx)
    campaign_id = None
    if campaign:
        with c.db.session() as session:
            campaign_id = queries.campaign_by_name(session, campaign).id
    results = recovery.resume_contacts(c.db, emails, parse_now(now), campaign_id)
    for email, what in results.items():
        out.print(f"{email}: {what}")
