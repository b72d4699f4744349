import dataclasses
import re
from pathlib import Path

import pytest

from campaign_engine.core.config import Settings, load_settings
from campaign_engine.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_environment_overrides_the_file_and_paths_are_relative_to_it() -> None:
    settings = load_settings(
        ROOT / "config.toml",
        environ={
            "CAMPAIGN_SMTP_PORT": "2525",
            "CAMPAIGN_SMTP_STARTTLS": "yes",
            "CAMPAIGN_FROM": "Ops <ops@example.com>",
            "CAMPAIGN_TRANSPORT": "smtp",
            "CAMPAIGN_SMTP_PASSWORD": "hunter2",
        },
    )
    assert settings.smtp.port == 2525 and settings.smtp.starttls is True
    assert settings.from_address == "Ops <ops@example.com>"
    assert settings.transport == "smtp"
    assert settings.sequences_dir == ROOT / "sequences"
    assert settings.database_url == f"sqlite:///{ROOT / 'var' / 'campaign.db'}"
    assert "hunter2" not in repr(settings)


def test_bad_values_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CAMPAIGN_SMTP_PORT"):
        load_settings(ROOT / "config.toml", environ={"CAMPAIGN_SMTP_PORT": "lots"})
    with pytest.raises(ConfigError, match="transport must be"):
        load_settings(ROOT / "config.toml", environ={"CAMPAIGN_TRANSPORT": "pigeon"})
    with pytest.raises(ConfigError, match=r"recount_seconds must be 0 \(count on every"):
        load_settings(ROOT / "config.toml", environ={"CAMPAIGN_RECOUNT_SECONDS": "-5"})
    assert load_settings(ROOT / "config.toml", environ={}).recount_seconds == 60
    config = tmp_path / "config.toml"
    config.write_text('secret = "x"\nsmtp_hots = "typo"\n')
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(config, environ={})


def test_an_unsupported_database_url_is_one_clear_line(tmp_path: Path) -> None:
    for url in ("mysql://root:hunter2@db/campaigns", "mssql+pyodbc://db/x", "campaign.db"):
        with pytest.raises(ConfigError) as refused:
            load_settings(ROOT / "config.toml", environ={"CAMPAIGN_DATABASE_URL": url})
        line = str(refused.value)
        assert "database_url" in line and "is not supported: use sqlite:///" in line, line
        assert "\n" not in line and "hunter2" not in line
    for url in ("postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"):
        assert load_settings(ROOT / "config.toml", environ={"CAMPAIGN_DATABASE_URL": url})


def test_unsubscribe_mailto_must_be_a_bare_address() -> None:
    with pytest.raises(ConfigError, match="unsubscribe_mailto must be a bare address"):
        load_settings(ROOT / "config.toml", environ={"CAMPAIGN_UNSUBSCRIBE_MAILTO": "Ops <a@b>"})


def test_settings_never_print_a_password_or_the_secret(tmp_path: Path) -> None:
    settings = Settings(
        tmp_path / "config.toml",
        database_url="postgresql://mailer:hunter2@db.example/campaigns",
        secret="s3cr3t-that-signs-every-link",
    )
    shown = repr(settings)
    assert "postgresql://mailer:***@db.example/campaigns" in shown
    assert "hunter2" not in shown and "s3cr3t" not in shown


def test_reply_and_bounce_addresses_are_bare_addresses_without_a_tag(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('secret = "s"\nreply_to = "replies+x@example.com"\n')
    with pytest.raises(ConfigError, match="reply_to must be a bare address"):
        load_settings(config, environ={})
    config.write_text('secret = "s"\nbounce_address = "Bounces <b@example.com>"\n')
    with pytest.raises(ConfigError, match="bounce_address must be a bare address"):
        load_settings(config, environ={})


def test_the_inbox_table_and_its_environment_overrides(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('secret = "s"\n[inbox]\nhost = "imap.example.com"\nport = 143\n')
    settings = load_settings(
        config, environ={"CAMPAIGN_INBOX_PASSWORD": "pw", "CAMPAIGN_INBOX_POLL_SECONDS": "30"}
    )
    assert settings.inbox.enabled and settings.inbox.port == 143
    assert settings.inbox.password == "pw" and "pw" not in repr(settings.inbox)
    assert settings.inbox_poll_seconds == 30.0
    assert settings.inbox.processed_folder == "Processed"


def test_a_plain_smtp_table_is_one_relay_and_several_take_their_defaults_from_it(
    tmp_path: Path,
) -> None:
    assert [r.name for r in load_settings(ROOT / "config.toml", environ={}).relays] == ["main"]
    config = tmp_path / "config.toml"
    config.write_text(
        'secret = "x"\n[smtp]\nhost = "relay.example"\nconcurrency = 2\npassword = "shared"\n'
        '[[smtp.relays]]\nname = "ses"\nweight = 3\ndomains = ["News.Example.com"]\n'
        'ca_file = "ca.pem"\n'
        '[[smtp.relays]]\nname = "backup-1"\nhost = "backup.example"\nport = 2525\n'
    )
    settings = load_settings(
        config,
        environ={"CAMPAIGN_SMTP_RELAYS_BACKUP_1_PASSWORD": "own", "CAMPAIGN_SMTP_PORT": "587"},
    )
    ses, backup = settings.relays
    assert (ses.name, ses.weight, ses.host, ses.port, ses.password) == (
        "ses", 3.0, "relay.example", 587, "shared"
    )  # fmt: skip
    assert ses.ca_file == str(tmp_path / "ca.pem")
    assert ses.carries("news.example.com") and not ses.carries("example.com")
    assert (backup.host, backup.port, backup.password) == ("backup.example", 2525, "own")
    assert backup.carries("anything.example") and settings.connections == 4
    assert ses.fingerprint() == dataclasses.replace(ses, weight=1, domains=()).fingerprint()


@pytest.mark.parametrize(
    ("relays", "says"),
    [
        ('[[smtp.relays]]\nhost = "a"\n', "every \\[\\[smtp.relays\\]\\] needs a name"),
        ('[[smtp.relays]]\nname = "a"\n[[smtp.relays]]\nname = "a"\n', "two .* named 'a'"),
        ('[[smtp.relays]]\nname = "a"\nweight = 0\n', "relay a weight must be more than 0"),
        ('[[smtp.relays]]\nname = "a b"\n', "relay name 'a b' must be letters"),
        ('[[smtp.relays]]\nname = "a"\nrate_limit = 5\n', "rate_limit is for all relays"),
        ('[[smtp.relays]]\nname = "a"\nhots = "x"\n', "unknown setting\\(s\\) hots"),
    ],
)
def test_a_bad_relay_is_one_line_naming_it(tmp_path: Path, relays: str, says: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'secret = "x"\n[smtp]\n{relays}')
    with pytest.raises(ConfigError, match=says):
        load_settings(config, environ={})


def test_the_warmup_table_is_off_unless_start_per_day_is_set(tmp_path: Path) -> None:
    assert not load_settings(ROOT / "config.toml", environ={}).warmup.enabled
    config = tmp_path / "config.toml"
    config.write_text('secret = "s"\n[warmup]\nstart_per_day = 100\nstarted = 2026-01-05\n')
    warmup = load_settings(config, environ={"CAMPAIGN_WARMUP_GROWTH": "2"}).warmup
    assert (warmup.enabled, warmup.growth, str(warmup.started_on)) == (True, 2.0, "2026-01-05")
    for line, problem in (
        ("growth = 0.5", "growth must be 1 (a flat daily cap) or more"),
        ("start_per_day = -1", "start_per_day must be 0 (no warm-up) or more"),
        ('started = "next monday"', "started must be a day like 2026-01-31"),
    ):
        config.write_text(f'secret = "s"\n[warmup]\n{line}\n')
        with pytest.raises(ConfigError, match=re.escape(f"[warmup] {problem}")):
            load_settings(config, environ={})
