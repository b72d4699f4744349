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
