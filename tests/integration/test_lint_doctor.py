"""`campaign lint`, `campaign doctor` and `campaign dkim keygen` through the real command."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from campaign_engine.core.config import Settings
from campaign_engine.sending.dkim import DkimSigner
from campaign_engine.sending.lint import lint_sequence, spamassassin_available
from tests.conftest import ROOT

CAMPAIGN = str(Path(sys.executable).parent / "campaign")
SHIPPED = ("premium-to-ultimate", "premium-to-ultimate-personas")


def campaign(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "CAMPAIGN_CONFIG": str(config), "COLUMNS": "250", **env}
    return subprocess.run(
        [CAMPAIGN, *args], env=environ, capture_output=True, text=True, check=False
    )


def broken_copy(settings: Settings, tmp_path: Path) -> Path:
    """The shipped templates and sequence, copied and broken on purpose; returns the config."""
    templates = tmp_path / "templates"
    sequences = tmp_path / "sequences"
    shutil.copytree(ROOT / "templates", templates)
    shutil.copytree(ROOT / "sequences", sequences)
    folder = templates / "premium-to-ultimate"
    html = (folder / "email1.html.j2").read_text()
    html = html.replace('{% include "_footer.html.j2" %}', "")  # no address, no unsubscribe
    html = html.replace(
        "</body>",
        '<img src="https://cdn.example.com/banner.png">'
        '<a href="htp//broken link">here</a>'
        '<a href="https://untracked.example.com/{{ contact.email }}">you</a></body>',
    )
    (folder / "email1.html.j2").write_text(html)
    (folder / "email2.txt.j2").write_text("   \n")
    toml = (sequences / "premium-to-ultimate.toml").read_text()
    toml = toml.replace(
        'subject = "No more afterthought security"',
        'subject = "No more afterthought security: a very long subject line that keeps going on and on"',
    )
    (sequences / "premium-to-ultimate.toml").write_text(toml)
    config = tmp_path / "broken.toml"
    text = settings.config_path.read_text()
    text = re.sub(r'templates_dir = ".*"', f'templates_dir = "{templates}"', text)
    text = re.sub(r'sequences_dir = ".*"', f'sequences_dir = "{sequences}"', text)
    config.write_text(text)
    return config


def test_lint_flags_a_deliberately_broken_template(settings: Settings, tmp_path: Path) -> None:
    done = campaign(broken_copy(settings, tmp_path), "lint", "premium-to-ultimate", "--no-spam")
    assert done.returncode == 1, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    for expected in (
        "HTML part has no unsubscribe link",
        "HTML part has no postal address",
        "image without alt text",
        "broken link (not a valid http(s) URL): 'htp//broken link'",
        "untracked link (not rewritten to https://track.example.test)",
        "text part is missing or empty",
        "subject is 82 characters (limit 78)",
    ):
        assert expected in out, expected
    assert "error(s)." in out


def test_shipped_sequences_lint_clean(settings: Settings) -> None:
    for key in SHIPPED:
        report = lint_sequence(settings, key, spam=False)
        assert [(s.step, s.persona, s.findings) for s in report.steps if s.findings] == []
    done = campaign(settings.config_path, "lint", "premium-to-ultimate", "--no-spam")
    assert done.returncode == 0, done.stdout


@pytest.mark.skipif(not spamassassin_available(), reason="spamassassin is not installed")
def test_shipped_sequences_score_below_2_in_spamassassin(settings: Settings) -> None:
    for key in SHIPPED:
        report = lint_sequence(settings, key)
        assert report.spamassassin
        scores = {(s.step, s.persona): (s.spam_score, s.spam_tests) for s in report.steps}
        assert all(score is not None and score < 2.0 for score, _ in scores.values()), scores
    done = campaign(settings.config_path, "lint", "premium-to-ultimate-personas")
    assert done.returncode == 0
    assert re.search(r"-?\d\.\d \(", done.stdout), "the score per step is shown"


def test_keygen_then_doctor(settings: Settings, tmp_path: Path) -> None:
    key = tmp_path / "keys" / "dkim.pem"
    done = campaign(
        settings.config_path,
        "dkim", "keygen", "--selector", "s2026", "--domain", "gitlab-demo.example", "--out", str(key),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = " ".join(done.stdout.split())
    assert re.search(
        r's2026\._domainkey\.gitlab-demo\.example\. IN TXT \( "v=DKIM1; k=rsa; p=[\w+/]+', record
    )
    assert key.stat().st_mode & 0o077 == 0, "the private key is readable by its owner only"
    DkimSigner("s2026", "gitlab-demo.example", key.read_bytes())  # a usable key
    again = campaign(
        settings.config_path, "dkim", "keygen", "--domain", "x.example", "--out", str(key)
    )
    assert again.returncode == 1 and "exists" in again.stderr

    # The test config: https tracking, an address, a real secret, but no DKIM yet.
    done = campaign(settings.config_path, "doctor")
    assert done.returncode == 1
    out = " ".join(done.stdout.split())
    assert "error dkim: not configured" in out
    assert "ok smtp: connect 127.0.0.1:" in out and "ok smtp: EHLO" in out

    dkim = {
        "CAMPAIGN_DKIM_SELECTOR": "s2026",
        "CAMPAIGN_DKIM_DOMAIN": "gitlab-demo.example",
        "CAMPAIGN_DKIM_PRIVATE_KEY_PATH": str(key),
        "CAMPAIGN_SECRET": "a-long-random-production-secret-4b8e1d7c93a0f5e2",
    }
    done = campaign(settings.config_path, "doctor", **dkim)
    assert done.returncode == 0, done.stdout
    assert "Ready to send." in done.stdout

    bad = {
        **dkim,
        "CAMPAIGN_DKIM_DOMAIN": "other.example",
        "CAMPAIGN_TRACKING_BASE_URL": "http://track.gitlab-demo.example",
        "CAMPAIGN_POSTAL_ADDRESS": "",
        "CAMPAIGN_SECRET": "demo-secret-change-me-0f6c2b1e9a4d",
        "CAMPAIGN_SMTP_PORT": "1",
    }
    done = campaign(settings.config_path, "doctor", **bad)
    assert done.returncode == 1
    out = " ".join(done.stdout.split())
    assert "does not match the From domain gitlab-demo.example" in out
    assert "is plain http: use https" in out
    assert "error postal_address" in out
    assert "error secret: is the demo value" in out
    assert "error smtp: connect: relay unreachable" in out and "check [smtp] host and port" in out
    assert "5 thing(s) to fix" in out
