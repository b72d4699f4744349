"""`make demo`: a realistic campaign, end to end, on the embedded defaults.

Imports the example target list, launches "Upsell Premium to Ultimate" on Tuesday 2021-04-27,
then ticks through three simulated weeks (twice a day) and shows what went to whom and when.
Everything is real except the clock: the same `campaign` commands an operator would run.
"""

from __future__ import annotations

import email
import json
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / "var" / "demo"
CONFIG = RUN_DIR / "config.toml"
CONFIG_OPTION = f"--config {CONFIG.relative_to(ROOT)}"
START = date(2021, 4, 27)
console = Console() if sys.stdout.isatty() else Console(width=150)


DEMO_PASSWORD = "demo-console-password"  # the demo's console logins (local only)
DEMO_OPS = "ops@gitlab-demo.example"
DEMO_REP = "grace.kim@gitlab-demo.example"  # owns accounts in the example target list
SALES_OPS = "sales-ops@gitlab-demo.example"  # [reps] unassigned_to: requests no rep owns


def write_config() -> Path:
    """The demo's own config file, next to its database and Maildir: the repository's settings
    (sender, footer, secret), with DKIM signing and the reply and bounce mailboxes switched on."""
    shipped = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    text = f"""# Written by `make demo` (examples/demo.py). Paths are relative to this file.
database_url = "sqlite:///campaign.db"
transport = "outbox"
outbox_dir = "outbox"
from = {json.dumps(shipped["from"])}
company_name = {json.dumps(shipped["company_name"])}
postal_address = {json.dumps(shipped["postal_address"])}
tracking_base_url = "http://127.0.0.1:8080"
secret = {json.dumps(shipped["secret"])}
sequences_dir = {json.dumps(str(ROOT / "sequences"))}
templates_dir = {json.dumps(str(ROOT / "templates"))}
# Replies and bounces come back to the engine's mailbox (see close_the_loop).
reply_to = "replies@gitlab-demo.example"
reply_subaddress = true
bounce_address = "bounces@gitlab-demo.example"

# Every message is DKIM-signed with the key `campaign dkim keygen` writes at the start.
[dkim]
selector = "demo"
domain = "gitlab-demo.example"
private_key_path = "dkim.pem"

# A contact whose account no rep owns still reaches a person: this address.
[reps]
unassigned_to = "{SALES_OPS}"
"""
    CONFIG.write_text(text, encoding="utf-8")
    return CONFIG


def shown(args: tuple[str, ...]) -> str:
    """A command line as it can be pasted into a shell (quoted where needed, paths relative)."""
    words = [str(Path(a).relative_to(ROOT)) if a.startswith(f"{ROOT}/") else a for a in args]
    return "campaign " + shlex.join(words)


def campaign(*args: str, quiet: bool = False, stdin: str | None = None) -> str:
    """Run one `campaign` command as an operator would; quiet ones print only when they did work."""
    if not quiet:
        console.print(f"\n$ {shown(args)}", style="bold cyan", markup=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_")}
    env.update(CAMPAIGN_CONFIG=str(CONFIG), COLUMNS=os.environ.get("COLUMNS", "160"))
    binary = Path(sys.executable).parent / "campaign"
    result = subprocess.run(
        [str(binary), *args],
        env=env,
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        input=stdin,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        sys.exit(f"demo: `{shown(args)}` failed with exit code {result.returncode}")
    if not quiet:
        sys.stdout.write(result.stdout)
    return result.stdout


def by_day(records: list[dict[str, str]]) -> Table:
    """What went out each day: step, subject, how many contacts at how many accounts."""
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = defaultdict(list)
    for record in records:
        if record["state"] == "sent":
            groups[(record["sent_at"][:16], record["step"], record["subject"])].append(record)
    table = Table(title="What went to whom, and when (sent mail, by send time)")
    for column in ("sent at (UTC)", "step", "subject", "contacts", "accounts", "segments", "e.g."):
        table.add_column(column)
    for (sent_at, step, subject), rows in sorted(groups.items()):
        table.add_row(
            sent_at.replace("T", " "),
            str(step),
            subject,
            str(len(rows)),
            str(len({r["account"] for r in rows})),
            ", ".join(sorted({r["segment"] for r in rows})),
            rows[0]["to"],
        )
    return table


def outbox_mail() -> list[EmailMessage]:
    folder = RUN_DIR / "outbox" / "new"
    return [
        email.message_from_bytes(f.read_bytes(), policy=default_policy)
        for f in sorted(folder.iterdir())
    ]


def close_the_loop() -> dict[str, str]:
    """After email 1: one contact replies, one is out of office, one address bounces; the
    mail comes back as .eml files through `campaign inbox import` (the same pipeline as
    `campaign inbox poll` on the IMAP mailbox). Returns {email: what happened}."""
    console.rule("Replies and bounces come back: `campaign inbox import`")
    sent = [m for m in outbox_mail() if m["List-Unsubscribe"] and "@" in str(m["Reply-To"])]
    reply, away, bounce = sent[0], sent[1], sent[2]
    inbox = RUN_DIR / "inbox"
    inbox.mkdir()

    def answer(message: EmailMessage, headers: str, body: str) -> bytes:
        to = message["To"].addresses[0]
        return (
            f"From: {to.display_name} <{to.addr_spec}>\r\nTo: {message['Reply-To']}\r\n"
            f"Subject: Re: {message['Subject']}\r\nIn-Reply-To: {message['Message-ID']}\r\n"
            f"References: {message['Message-ID']}\r\n{headers}"
            "Date: Tue, 27 Apr 2021 17:02:00 +0000\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
        ).encode()

    first = reply["To"].addresses[0].display_name.split()[0]
    (inbox / "reply.eml").write_bytes(
        answer(
            reply,
            "Message-ID: <demo-reply-1@customer.example>\r\n",
            "Hi,\r\n\r\nThis looks useful: can we talk on Thursday about security"
            f" scanning?\r\n\r\nBest,\r\n{first}\r\n--\r\n{first} | +1 555 0100\r\n\r\n"
            "On Tue, Apr 27, 2021 at 9:00 AM Marketing wrote:\r\n> the email we sent\r\n",
        )
    )
    (inbox / "out-of-office.eml").write_bytes(
        answer(
            away,
            "Message-ID: <demo-ooo-1@customer.example>\r\nAuto-Submitted: auto-replied\r\n",
            "I am out of the office and back on May 3, 2021.\r\n",
        ).replace(b"Subject: Re:", b"Subject: Out of Office: Re:")
    )
    gone = bounce["To"].addresses[0].addr_spec
    (inbox / "bounce.eml").write_bytes(
        (
            "From: Mail Delivery System <MAILER-DAEMON@mx.gitlab-demo.example>\r\n"
            "To: bounces@gitlab-demo.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            "Message-ID: <demo-dsn-1@mx.gitlab-demo.example>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
            f"--b\r\nContent-Type: text/plain\r\n\r\n<{gone}>: User unknown\r\n"
            "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.gitlab-demo.example\r\n\r\n"
            f"Final-Recipient: rfc822; {gone}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"To: {gone}\r\nMessage-ID: {bounce['Message-ID']}\r\n--b--\r\n"
        ).encode()
    )
    files = [str(inbox / n) for n in ("reply.eml", "out-of-office.eml", "bounce.eml")]
    campaign("inbox", "import", *files, "--now", f"{START.isoformat()}T17:05:00+00:00")
    (alert,) = [m for m in outbox_mail() if m["X-Campaign-Alert"] == "contact_request"]
    show_alert("The rep's alert, sent by `inbox import` itself", alert)
    campaign("suppress", "list")
    return {
        reply["To"].addresses[0].addr_spec: "replied to email 1",
        away["To"].addresses[0].addr_spec: "out of office",
        gone: "bounced",
    }


def show_alert(title: str, alert: EmailMessage, lines: int | None = None) -> None:
    console.print(f"\n[bold]{title}[/bold] (To: {alert['To']}, Reply-To: {alert['Reply-To']})")
    console.print(f"Subject: {alert['Subject']}\n", markup=False)
    body = alert.get_body(("plain",))
    text = str(body.get_content() if body else "")
    console.print("\n".join(text.splitlines()[:lines]) if lines else text, markup=False)


def raised_hands() -> None:
    """A contact whose account no rep owns asks for a call: the alert reaches the unassigned
    fallback (sales ops); the account gets a rep, the request moves to her and she is alerted
    at once; she marks it handled."""
    console.rule("A raised hand always reaches a person")
    newcomer = RUN_DIR / "new-account.csv"
    newcomer.write_text(
        "email,first_name,last_name,title,account,employees,owner_email\n"
        "ines.ortega@brightpath.example,Ines,Ortega,CTO,Brightpath,420,"
        "hannah.lee@gitlab-demo.example\n"
    )
    campaign("import", "contacts", str(newcomer))  # hannah.lee is no rep: nobody owns it
    moment = f"{START.isoformat()}T18:00:00+00:00"
    campaign("contact-request", "ines.ortega@brightpath.example", "--note",
             "We renew in June; can someone call me this week?", "--now", moment)  # fmt: skip
    (fallback,) = [m for m in outbox_mail() if str(m["To"]) == SALES_OPS]
    show_alert("The unassigned fallback's alert", fallback, lines=9)
    campaign("requests", "list", "--unassigned")
    campaign("accounts", "assign", "Brightpath", DEMO_REP, "--now", moment)
    (moved,) = [m for m in outbox_mail() if "Ines" in str(m["Subject"]) and
                m["To"].addresses[0].addr_spec == DEMO_REP]  # fmt: skip
    show_alert("Grace's alert, the moment the account is hers", moved, lines=6)
    listed = json.loads(campaign("requests", "list", "--rep", DEMO_REP, "--format", "json",
                                 quiet=True))  # fmt: skip
    for request in listed:
        campaign("requests", "handled", str(request["id"]), "--outcome", "meeting booked",
                 "--rep", DEMO_REP, "--note", "call booked for Thursday")  # fmt: skip


def show_email_2(loop: dict[str, str], records: list[dict[str, object]]) -> None:
    """Only the out-of-office contact of the three gets email 2."""
    table = Table(title="Email 2 for the three contacts whose mail came back")
    for column in ("contact", "what came back", "email 2"):
        table.add_column(column)
    for address, what in loop.items():
        step_2 = [r for r in records if r["to"] == address and r["step"] == 2]
        table.add_row(address, what, str(step_2[0]["state"]) if step_2 else "not sent")
    console.print(table)


def tick_through_every_zone(after_day_one: Callable[[], None]) -> None:
    """Each contact gets mail at 09:00 in their own zone (the launch table above shows each zone's
    first send), so the demo ticks at the moments those mornings begin, in UTC; `after_day_one`
    runs once email 1 went out everywhere."""
    mornings = {
        "00:00": "Tokyo",
        "03:30": "Kolkata",
        "07:00": "Berlin",
        "08:00": "London",
        "13:00": "New York",
        "14:00": "Chicago",
        "16:00": "Los Angeles",
    }
    console.rule(
        "Three weeks of `campaign tick` at 09:00 local in each zone: "
        + ", ".join(mornings.values())
    )
    for offset in range(0, 15):
        day = START + timedelta(days=offset)
        # Send days (every 7th) tick at each zone's morning; the others only for reps' mail.
        for hour in mornings if offset % 7 == 0 else ("08:00", "13:00"):
            output = campaign("tick", "--now", f"{day.isoformat()}T{hour}:00+00:00", quiet=True)
            if not output.split(": ", 1)[-1].startswith("0 queued, 0 sent"):
                console.print(output.strip())
        if offset == 0:
            after_day_one()


def main() -> None:
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    console.rule("campaign-engine demo: Upsell Premium to Ultimate")
    write_config()
    console.print(
        f"Settings: {CONFIG.relative_to(ROOT)}. Every command below runs in {ROOT} with them;"
        f" to run one yourself there, add {CONFIG_OPTION} after `campaign`.",
        markup=False,
    )
    campaign("dkim", "keygen", "--out", str(RUN_DIR / "dkim.pem"))
    campaign("lint", "premium-to-ultimate")
    campaign("import", "reps", str(ROOT / "examples" / "reps.csv"))
    campaign("import", "contacts", str(ROOT / "examples" / "target-list.csv"))
    # Reps marked a few contacts "exclude" in the target list (columns A and B of the play).
    campaign("exclude", str(ROOT / "examples" / "target-list.csv"))
    # Check before it is real: the whole campaign in simulated time on a scratch copy.
    campaign("rehearse", "premium-to-ultimate", "--start", START.isoformat(), "--name",
             "Premium to Ultimate", "--samples", "1", "--no-spam", "--out",
             str(RUN_DIR / "rehearsal.csv"), "--now", f"{START - timedelta(days=1)}T12:00:00+00:00")  # fmt: skip
    campaign(
        "launch",
        "premium-to-ultimate",
        "--start",
        START.isoformat(),
        "--name",
        "Premium to Ultimate",
        "--yes",  # 2021 is in the past: the engine asks before mailing a backlog at once
        "--now",
        f"{START - timedelta(days=1)}T12:00:00+00:00",  # the demo's clock: the day before
    )
    loop: dict[str, str] = {}
    tick_through_every_zone(lambda: (loop.update(close_the_loop()), raised_hands()))
    console.rule("Result")
    campaign("status")
    records = json.loads(campaign("messages", "--limit", "0", "--format", "json", quiet=True))
    console.print(by_day(records))
    console.print(
        "MM and ENT contacts (and modes A and B) got nothing automated: "
        f"{sorted({r['segment'] for r in records})} are the only segments mailed."
    )
    show_email_2(loop, records)
    outbox = RUN_DIR / "outbox" / "new"
    count = len(list(outbox.iterdir())) if outbox.exists() else 0
    signed = sum(1 for f in outbox.iterdir() if f.read_bytes().startswith(b"DKIM-Signature:"))
    console.print(f"{signed} of {count} messages carry a DKIM signature (d=gitlab-demo.example)")
    console.print(
        f"\n[bold green]{count} messages delivered[/bold green] into the Maildir {RUN_DIR / 'outbox'}"
        f"\nOpen one: [cyan]less {next(outbox.iterdir()) if count else outbox}[/cyan]"
        f"  or the whole folder: [cyan]mutt -f {RUN_DIR / 'outbox'}[/cyan]"
        f"\nAll messages: [cyan]campaign {CONFIG_OPTION} messages --limit 0[/cyan]"
    )
    open_console()


def open_console() -> None:
    """Demo logins for the web console, and how to open it."""
    for login, role in ((DEMO_OPS, "ops"), (DEMO_REP, "rep")):
        campaign("users", "add", login, "--role", role, "--password-stdin", "--replace",
                 quiet=True, stdin=DEMO_PASSWORD + "\n")  # fmt: skip
    console.rule("The web console")
    console.print(
        f"Start it:   [cyan]cd {shlex.quote(str(ROOT))}"
        f" && .venv/bin/campaign {CONFIG_OPTION} serve[/cyan]"
        "\nThen open:  [cyan]http://127.0.0.1:8080/app/[/cyan]"
        f"\nOps login:  [cyan]{DEMO_OPS}[/cyan]  password [cyan]{DEMO_PASSWORD}[/cyan]"
        f"\nRep login:  [cyan]{DEMO_REP}[/cyan]  (same password): My day, drafts, preview"
    )


if __name__ == "__main__":
    main()
