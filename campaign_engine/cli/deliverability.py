"""Deliverability checks: `campaign dkim keygen`, `campaign doctor` and `campaign lint`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from campaign_engine.cli.app import command_group, context_of, out, parse_now, subcommand
from campaign_engine.core.config import DkimSettings
from campaign_engine.core.errors import ConfigError
from campaign_engine.engine.doctor import Check, diagnose
from campaign_engine.sending import relay_state
from campaign_engine.sending.dkim import dns_record, generate_key, valid_domain, valid_selector
from campaign_engine.sending.lint import LintReport, lint_sequence
from campaign_engine.store.db import database_exists

dkim_app = command_group(help="DKIM keys for signing outgoing mail.", no_args_is_help=True)


@subcommand(
    dkim_app, "keygen", "campaign dkim keygen --selector s1 --domain example.com --out dkim.pem"
)
def dkim_keygen_command(
    ctx: typer.Context,
    selector: Annotated[
        str | None, typer.Option(help="DKIM selector (default: [dkim] selector or 'mail').")
    ] = None,
    domain: Annotated[
        str | None, typer.Option(help="Signing domain (default: [dkim] domain or the From domain).")
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Private key file to write (default: [dkim] private_key_path)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing key file.")] = False,
) -> None:
    """Write a 2048-bit RSA key and print the DNS TXT record to publish."""
    try:
        dkim_settings, from_address = (
            context_of(ctx).settings.dkim,
            context_of(ctx).settings.from_address,
        )
    except ConfigError:
        dkim_settings, from_address = DkimSettings(), ""
    selector = selector or dkim_settings.selector or "mail"
    domain = domain or dkim_settings.domain or from_address.rsplit("@", 1)[-1].strip("> ")
    if not valid_domain(domain) or not valid_selector(selector):
        raise ConfigError(
            f"selector {selector!r} / domain {domain!r}: give --selector and --domain"
        )
    path = out_file or dkim_settings.private_key_path
    if path is None:
        raise ConfigError("no key file: give --out FILE (or set [dkim] private_key_path)")
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; --force replaces it (and the published DNS key!)")
    pair = generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(pair.private_pem)
    out.print(f"wrote {path} (2048-bit RSA, keep it private)")
    out.print(
        "Publish this TXT record in DNS, then set [dkim] selector, domain, private_key_path:",
        markup=False,
    )
    out.print(dns_record(selector, domain, pair.public_b64), soft_wrap=True)


def doctor(
    ctx: typer.Context,
    smtp: Annotated[
        bool,
        typer.Option(
            help="Walk an SMTP envelope with the relay up to RCPT TO (nothing is sent) and"
            " log in to [inbox]."
        ),
    ] = True,
) -> None:
    """Check the config for deliverability and compliance; exit 1 when something must be fixed."""
    c = context_of(ctx)
    checks = diagnose(c.settings, probe_smtp=smtp)
    sending = c.settings.transport == "smtp" and database_exists(c.settings.database_url)
    relay = relay_state.pause_status(c.db, c.settings, parse_now(None)) if sending else None
    if relay is not None and relay.paused:
        checks.append(Check("error", "relay", relay.line))
    if sending and len(c.settings.relays) > 1:  # one relay down: its mail goes to the others
        for each in relay_state.relay_statuses(c.db, c.settings, parse_now(None)):
            level = "warning" if each.paused else "ok"
            checks.append(Check(level, f"relay {each.name}", each.line.partition(": ")[2]))
    colours = {"ok": "green", "warning": "yellow", "error": "red"}
    for check in checks:
        out.print(
            f"[{colours[check.level]}]{check.level:7}[/] {check.what}: {escape(check.detail)}",
            markup=True,
            soft_wrap=True,
        )
    errors = sum(1 for c in checks if c.level == "error")
    if errors:
        out.print(f"{errors} thing(s) to fix before sending for real.")
        raise typer.Exit(1)
    out.print("Ready to send.")


def lint_command(
    ctx: typer.Context,
    sequence: Annotated[str, typer.Argument(help="Name of sequences/SEQUENCE.toml.")],
    spam: Annotated[bool, typer.Option(help="Score with SpamAssassin when installed.")] = True,
) -> None:
    """Render every step for each persona and check it; exit 1 on any error."""
    report = lint_sequence(context_of(ctx).settings, sequence, spam=spam)
    print_lint(report, spam)
    if report.errors:
        out.print(f"{report.errors} error(s).")
        raise typer.Exit(1)


def print_lint(report: LintReport, spam: bool) -> None:
    """The lint table (score, errors, warnings per step and persona), then each finding."""
    table = Table(title=f"lint {report.sequence}")
    for column in ("step", "persona", "subject", "spam score", "errors", "warnings"):
        table.add_column(column)
    for step in report.steps:
        score = "-" if step.spam_score is None else f"{step.spam_score:.1f}".replace("-0.0", "0.0")
        if step.spam_tests:
            score += f" ({step.spam_tests})"
        levels = [f.level for f in step.findings]
        table.add_row(
            str(step.step),
            step.persona,
            step.subject,
            score,
            str(levels.count("error")),
            str(levels.count("warning")),
        )
    out.print(table)
    for step in report.steps:
        for finding in step.findings:
            colour = "red" if finding.level == "error" else "yellow"
            out.print(
                f"step {step.step} {step.persona}: [{colour}]{finding.level}[/] "
                f"{escape(finding.message)}",
                markup=True,
                soft_wrap=True,
            )
    if not report.spamassassin and spam:
        out.print("SpamAssassin is not installed: no spam scores (apt-get install spamassassin).")
