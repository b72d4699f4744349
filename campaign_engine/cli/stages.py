"""`campaign stages set|import`: the opportunity sales stages of contacts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from campaign_engine.cli.app import command_group, context_of, out, parse_now, subcommand
from campaign_engine.cli.csv_input import EncodingOption, print_import
from campaign_engine.reporting import stages

stages_app = command_group(
    help="Opportunity sales stages of contacts (0 Pending Acceptance ... 7 Closed Won, 8 Lost).",
    no_args_is_help=True,
)


@subcommand(stages_app, "set", "campaign stages set ana@acme.example 1 --at 2021-05-10")
def stages_set_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The contact's email.")],
    stage: Annotated[str, typer.Argument(help="Number or name: 1, '1 - Discovery', discovery...")],
    at: Annotated[
        datetime | None,
        typer.Option("--at", formats=["%Y-%m-%d"], help="Day it happened (default: today, UTC)."),
    ] = None,
) -> None:
    """Record that a contact's opportunity reached a sales stage (kept as history)."""
    c = context_of(ctx)
    try:
        number = stages.parse_stage(stage)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="STAGE") from None
    now = parse_now(None)
    out.print(str(stages.record_stage(c.db, email, number, at.date() if at else now.date(), now)))


@subcommand(stages_app, "import", "campaign stages import crm-stages.csv")
def stages_import_command(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV: email,stage,date.")
    ],
    encoding: EncodingOption = None,
) -> None:
    """Record stages from CSV; rejected rows are listed with file:line and reason (exit 1)."""
    c = context_of(ctx)
    print_import(stages.import_stages(c.db, file, parse_now(None), encoding), "stage changes")
