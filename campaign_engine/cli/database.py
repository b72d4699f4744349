"""`campaign db`: the database schema (upgrade, current, revision) and its counters."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
import typer

from campaign_engine.cli.app import command_group, context_of, out, subcommand
from campaign_engine.store import engagement_counts, message_counts, schema
from campaign_engine.store.db import Database, database_exists, redacted_url
from campaign_engine.store.models import Campaign

_CAMPAIGNS: sa.Table = Campaign.__table__  # type: ignore[attr-defined]

db_app = command_group(help="The database schema (alembic migrations).", no_args_is_help=True)


@subcommand(db_app, "upgrade", "campaign db upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Migrate the schema to the newest revision (also done automatically on first use)."""
    c = context_of(ctx)
    database = Database(c.settings.database_url, migrate=False)
    changed = schema.upgrade(database.engine)
    state = "upgraded to" if changed else "already at"
    out.print(f"{database!r}: {state} revision {schema.current_revision(database.engine)}")


@subcommand(db_app, "current", "campaign db current")
def db_current(ctx: typer.Context) -> None:
    """Show the schema revision of the database and the newest one this version knows."""
    c = context_of(ctx)
    if not database_exists(c.settings.database_url):
        out.print(
            f"database: not found ({redacted_url(c.settings.database_url)}); newest: {schema.head_revision()}"
        )
        return
    database = Database(c.settings.database_url, migrate=False)
    current, head = schema.current_revision(database.engine), schema.head_revision()
    out.print(f"database: {current or 'empty'}; newest: {head}")


@subcommand(db_app, "revision", "campaign db revision --message 'add a column'", hidden=True)
def db_revision(
    ctx: typer.Context, message: Annotated[str, typer.Option("--message", "-m")]
) -> None:
    """For contributors: write a migration for what the models add."""
    c = context_of(ctx)
    schema.new_revision(Database(c.settings.database_url, migrate=False).engine, message)


@subcommand(db_app, "check-counters", "campaign db check-counters --fix")
def db_check_counters(
    ctx: typer.Context,
    fix: Annotated[
        bool, typer.Option("--fix", help="Make the counters the recount (they were wrong).")
    ] = False,
) -> None:
    """Compare the messages counted per campaign, step, state and report slice, each
    enrolment's emailed flag and the events counted per report slice (what `campaign status`,
    the report and the dashboard read), with a full recount; exit 1 naming each difference."""
    c = context_of(ctx)
    with c.existing_db.engine.begin() as connection:
        found = message_counts.differences(connection)
        names = dict(connection.execute(sa.select(_CAMPAIGNS.c.id, _CAMPAIGNS.c.name)).all())
        for d in found:
            campaign_id, step, state, origin, segment, title, rep_id, day = d.key
            out.print(
                f"campaign {names.get(campaign_id, campaign_id)} step {step} {state}"
                f" ({origin}, segment {segment!r}, title {title!r}, rep {rep_id or 'none'},"
                f" sent on {day or 'no day'}): counter {d.kept}, recount {d.counted}"
            )
        wrong = message_counts.emailed_differences(connection)
        for enrollment_id, flag in wrong:
            out.print(
                f"enrolment {enrollment_id}: emailed {'yes' if flag else 'no'},"
                f" its messages say {'no' if flag else 'yes'}"
            )
        events = engagement_counts.differences(connection)
        for e in events:
            campaign_id, step, segment, title, rep_id, day, link, measure = e.key
            out.print(
                f"campaign {names.get(campaign_id, campaign_id)} step {step} {measure}"
                f" (segment {segment!r}, title {title!r}, rep {rep_id or 'none'}"
                f"{f', day {day}' if day else ''}{f', links {link}' if link else ''}):"
                f" counter {e.kept}, recount {e.counted}"
            )
        differ = len(found) + len(wrong) + len(events)
        if not differ:
            out.print("message counters agree with a full recount")
            return
        if fix:
            message_counts.rebuild(connection)
            engagement_counts.rebuild(connection)
            out.print(f"{differ} counter(s) rebuilt from the recount")
            return
    out.print(f"{differ} counter(s) differ: `campaign db check-counters --fix` rebuilds them")
    raise typer.Exit(1)
