"""`campaign messages`: what went (or will go) to whom; retry or accept uncertain sends."""

from __future__ import annotations

from typing import Annotated

import typer

from campaign_engine.cli.app import (
    DEFAULT_LIMIT,
    CampaignOption,
    Context,
    LimitOption,
    ListFormat,
    ListFormatOption,
    NowOption,
    command_group,
    context_of,
    minute,
    out,
    parse_now,
    subcommand,
)
from campaign_engine.cli.tables import print_list
from campaign_engine.reporting import reports
from campaign_engine.sending import recovery
from campaign_engine.store import queries

messages_app = command_group(
    help="What went (or will go) to whom, and when; decide about uncertain sends.",
    invoke_without_command=True,
)


@messages_app.callback()
def messages(
    ctx: typer.Context,
    campaign: CampaignOption = None,
    state: Annotated[
        str | None, typer.Option(help="Only messages in this state (sent, skipped...).")
    ] = None,
    limit: LimitOption = DEFAULT_LIMIT,
    format: ListFormatOption = ListFormat.table,
) -> None:
    """What went (or will go) to whom, and when."""
    if ctx.invoked_subcommand is not None:
        return
    c = context_of(ctx)
    with c.existing_db.session() as session:
        lines = reports.list_messages(session, campaign, state, limit)
        total = reports.count_messages(session, campaign, state) if limit else len(lines)
    columns = ("sent_at", "step", "to", "account", "segment", "subject", "state", "note")
    rows = [
        (minute(m.sent_at), str(m.step), m.to, m.account, m.segment, m.subject, m.state, m.note)
        for m in lines
    ]
    records = [line.to_json() for line in lines]
    print_list("Messages", columns, rows, total, format, records, right=("step",))


UncertainOption = Annotated[
    bool, typer.Option("--uncertain", help="Act on messages whose send outcome is unknown.")
]
FailedOption = Annotated[
    bool, typer.Option("--failed", help="Act on failed messages (refused, or given up).")
]
StepOption = Annotated[int | None, typer.Option(help="Only this step (email number).")]


@subcommand(messages_app, "retry", "campaign messages retry --failed --step 2")
def messages_retry(
    ctx: typer.Context,
    uncertain: UncertainOption = False,
    failed: FailedOption = False,
    campaign: CampaignOption = None,
    step: StepOption = None,
    now: NowOption = None,
) -> None:
    """Queue uncertain (some may then arrive twice) or failed messages again."""
    c = context_of(ctx)
    if failed == uncertain:
        raise typer.BadParameter("say --failed or --uncertain (one of them)")
    moment, campaign_id = parse_now(now), _campaign_id(c, campaign)
    if failed:
        count = recovery.retry_failed(c.db, moment, campaign_id, step)
        out.print(f"{count} failed message(s) queued again; the next tick sends them.")
        return
    count = recovery.retry_uncertain(c.db, moment, campaign_id)
    out.print(f"{count} uncertain message(s) queued again; the next tick sends them.")


@subcommand(
    messages_app,
    "skip",
    "campaign messages skip --failed --campaign 'premium-to-ultimate 2021-04-27'",
)
def messages_skip(
    ctx: typer.Context,
    failed: FailedOption = False,
    campaign: CampaignOption = None,
    step: StepOption = None,
    now: NowOption = None,
) -> None:
    """Give up on failed messages: their contacts move on to the next step."""
    if not failed:
        raise typer.BadParameter("say --failed: only failed messages can be skipped")
    c = context_of(ctx)
    count = recovery.skip_failed(c.db, parse_now(now), _campaign_id(c, campaign), step)
    out.print(f"{count} failed message(s) skipped; their contacts continue with the next step.")


@subcommand(messages_app, "mark-sent", "campaign messages mark-sent --uncertain")
def messages_mark_sent(
    ctx: typer.Context,
    uncertain: UncertainOption = False,
    campaign: CampaignOption = None,
    now: NowOption = None,
) -> None:
    """Count uncertain messages as delivered and move their contacts on to the next step."""
    if not uncertain:
        raise typer.BadParameter("say --uncertain: only uncertain messages can be acted on here")
    c = context_of(ctx)
    count = recovery.accept_uncertain(c.db, parse_now(now), _campaign_id(c, campaign))
    out.print(f"{count} uncertain message(s) counted as sent.")


def _campaign_id(c: Context, name: str | None) -> int | None:
    if name is None:
        return None
    with c.db.session() as session:
        return queries.campaign_by_name(session, name).id
