"""Rep outreach: `campaign drafts list|show|edit|send|done` and `campaign reminders`."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from campaign_engine.cli.app import (
    DEFAULT_LIMIT,
    CampaignOption,
    LimitOption,
    ListFormat,
    ListFormatOption,
    NowOption,
    RepOption,
    command_group,
    context_of,
    limited,
    out,
    parse_now,
    subcommand,
)
from campaign_engine.cli.tables import print_list
from campaign_engine.reps import drafts, reminder_mail, repsend
from campaign_engine.sending.transport import make_transport
from campaign_engine.store import queries

drafts_app = command_group(
    help="Reps' drafts of the sequence: list, read, edit, send.", no_args_is_help=True
)


class DraftStatusFilter(StrEnum):
    draft = "draft"
    sent = "sent"
    cancelled = "cancelled"
    all = "all"


class DoneReason(StrEnum):
    meeting = "meeting"
    opportunity = "opportunity"


@subcommand(drafts_app, "list", "campaign drafts list --rep rep@example.com --status sent")
def drafts_list(
    ctx: typer.Context,
    rep: RepOption = None,
    campaign: CampaignOption = None,
    status: Annotated[
        DraftStatusFilter, typer.Option(help="draft (open), sent, cancelled or all.")
    ] = DraftStatusFilter.draft,
    limit: LimitOption = DEFAULT_LIMIT,
    format: ListFormatOption = ListFormat.table,
) -> None:
    """The drafts waiting for a rep (or sent), one row per contact and email."""
    c = context_of(ctx)
    with c.existing_db.session() as session:
        if campaign:
            queries.campaign_by_name(session, campaign)
        views = drafts.list_drafts(
            session, rep, campaign, None if status is DraftStatusFilter.all else status.value
        )
    shown = limited(views, limit)
    columns = ["id", "contact", "account", "segment", "step", "subject", "status"]
    if rep is None:
        columns.insert(4, "rep")
    rows = []
    for v in shown:
        cells = {
            "id": str(v.id),
            "contact": v.contact_email,
            "account": v.account,
            "segment": v.segment,
            "rep": v.rep_email,
            "step": str(v.step),
            "subject": v.subject,
            "status": v.status
            + (f" ({v.status_note})" if v.status_note else "")
            + (f"; held: {v.held}" if v.held and v.status == "draft" else ""),
        }
        rows.append([cells[column] for column in columns])
    records = [v.to_json(body=False) for v in shown]
    print_list("Drafts", columns, rows, len(views), format, records, right=("id", "step"))


@subcommand(drafts_app, "show", "campaign drafts show 42 --rep rep@example.com")
def drafts_show(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    rep: RepOption = None,
) -> None:
    """One draft as it will go out (tracking and the footer are added when it is sent)."""
    c = context_of(ctx)
    with c.existing_db.session() as session:
        v = drafts.get_draft(session, draft_id, rep)
    out.print(
        f"Draft {v.id}: email {v.step} of {v.campaign!r}, {v.status}"
        + (f" ({v.status_note})" if v.status_note else "")
    )
    out.print(f"To: {v.contact_name} <{v.contact_email}> ({v.account}, {v.segment})")
    out.print(f"From: {v.rep_email or '(no rep)'}")
    out.print(f"Subject: {v.subject}\n")
    out.print(v.body_text, markup=False, soft_wrap=True)
    out.print("[dim]-- footer, added when sent; links are tracked when sent --[/dim]")
    out.print(v.footer_text, markup=False, style="dim", soft_wrap=True)


@subcommand(
    drafts_app, "edit", "campaign drafts edit 42 --subject 'Ultimate for Acme' --body-file body.txt"
)
def drafts_edit(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    subject: Annotated[str | None, typer.Option(help="New subject line.")] = None,
    body_file: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="New text body (UTF-8); keep the links as written."
        ),
    ] = None,
    rep: RepOption = None,
) -> None:
    """Change a draft's subject and/or text; campaign links stay tracked."""
    if subject is None and body_file is None:
        raise typer.BadParameter("give --subject and/or --body-file", param_hint="--subject")
    c = context_of(ctx)
    try:
        body = body_file.read_text(encoding="utf-8") if body_file else None
    except UnicodeDecodeError:
        raise typer.BadParameter(
            f"{body_file} is not UTF-8 text", param_hint="--body-file"
        ) from None
    with c.db.session() as session:
        v = drafts.edit_draft(session, c.settings, draft_id, rep, parse_now(None), subject, body)
    out.print(f"Draft {v.id} saved: email {v.step} to {v.contact_email}, subject {v.subject!r}.")


@subcommand(drafts_app, "send", "campaign drafts send 42 --rep rep@example.com")
def drafts_send(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(metavar="ID")],
    rep: RepOption = None,
    direct_replies: Annotated[
        bool,
        typer.Option(
            "--direct-replies",
            help="Replies go straight to the rep, not through the reply mailbox (reply_to).",
        ),
    ] = False,
    now: NowOption = None,
) -> None:
    """Send a draft now through the engine, from the rep, with tracked links."""
    c = context_of(ctx)
    moment = parse_now(now)

    async def send() -> repsend.SentDraft:
        async with make_transport(c.settings) as transport:
            return await repsend.send_draft(
                c.db, c.settings, transport, draft_id, rep, moment, direct_replies
            )

    sent = asyncio.run(send())
    out.print(
        f"Sent email {sent.step} {sent.subject!r} to {sent.recipient} from {sent.sender}"
        f" (message {sent.message_id})."
    )


@subcommand(
    drafts_app,
    "done",
    "campaign drafts done ana@acme.example --reason meeting --note 'call booked'",
)
def drafts_done(
    ctx: typer.Context,
    contact_email: Annotated[str, typer.Argument(metavar="CONTACT_EMAIL")],
    reason: Annotated[DoneReason, typer.Option(help="Where the thread went.")],
    rep: RepOption = None,
    note: Annotated[str, typer.Option(help="Free text kept with the mark.")] = "",
) -> None:
    """Mark a thread as moved to a meeting or an opportunity: no more next-step reminders, and
    the contact's open drafts are cancelled."""
    c = context_of(ctx)
    with c.db.session() as session:
        drafts.mark_done(session, contact_email, rep, reason.value, parse_now(None), note)
    out.print(
        f"{contact_email}: moved to {reason.value}; no more reminders for this contact, open"
        " drafts to them cancelled."
    )


def reminders_command(
    ctx: typer.Context,
    rep: RepOption = None,
    now: NowOption = None,
    limit: LimitOption = DEFAULT_LIMIT,
    format: ListFormatOption = ListFormat.table,
) -> None:
    """Next emails due: sent email N at least reminder_days ago, email N+1 not yet."""
    c = context_of(ctx)
    with c.existing_db.session() as session:
        lines = reminder_mail.reminder_lines(session, parse_now(now), c.settings.reminder_days, rep)
    shown = limited(lines, limit)
    rows = [
        (f"{line.reminder.due_at:%Y-%m-%d %H:%M}", line.reminder.rep_email,
         line.reminder.contact_email, line.account, line.reminder.campaign,
         f"email {line.reminder.sent_step} on {line.reminder.sent_at:%Y-%m-%d}",
         f"email {line.reminder.next_step}", str(line.draft_id or "-"))
        for line in shown
    ]  # fmt: skip
    columns = ("due since", "rep", "contact", "account", "campaign", "sent", "next", "draft")
    records = [line.to_json() for line in shown]
    print_list("Reminders due", columns, rows, len(lines), format, records,
               empty="No reminders due.")  # fmt: skip
