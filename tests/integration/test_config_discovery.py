"""Where `campaign` finds its config, `campaign init`, and read-only commands that never create
a database: run as the real command from directories an operator would be in."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from campaign_engine.core.config import find_config, load_settings, user_config_path
from campaign_engine.core.errors import ConfigError
from tests.helpers import CAMPAIGN


def run(cwd: Path, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`campaign ARGS` in `cwd`, with `home` as the user's home and no CAMPAIGN_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CAMPAIGN_", "XDG_"))}
    return subprocess.run(
        [CAMPAIGN, *args],
        cwd=cwd,
        env={**clean, "HOME": str(home), "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_no_config_anywhere_is_one_line_saying_where_it_looked(tmp_path: Path) -> None:
    deep = tmp_path / "projects" / "q3"
    deep.mkdir(parents=True)
    result = run(deep, tmp_path / "home", "status")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"config.toml in {deep} and every folder above it" in result.stderr
    assert str(tmp_path / "home" / ".config" / "campaign-engine" / "config.toml") in result.stderr
    assert "campaign init" in result.stderr


def test_init_writes_a_commented_config_with_a_fresh_secret(tmp_path: Path) -> None:
    result = run(tmp_path, tmp_path / "home", "init")
    assert result.returncode == 0, result.stderr
    written = tmp_path / "config.toml"
    assert f"wrote {written}" in result.stdout
    text = written.read_text()
    assert text.startswith("# campaign-engine configuration")
    first = tomllib.loads(text)["secret"]
    assert len(first) >= 40
    (tmp_path / "other").mkdir()
    assert run(tmp_path / "other", tmp_path / "home", "init").returncode == 0
    assert tomllib.loads((tmp_path / "other" / "config.toml").read_text())["secret"] != first
    settings = load_settings(written, environ={})  # every key it writes is a valid setting
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'campaign.db'}"

    again = run(tmp_path, tmp_path / "home", "init")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert tomllib.loads(written.read_text())["secret"] == first


def test_config_toml_is_found_up_the_tree_then_in_the_user_folder(tmp_path: Path) -> None:
    home, deep = tmp_path / "home", tmp_path / "work" / "lists" / "q3"
    deep.mkdir(parents=True)
    assert run(deep, home, "init", "--user").returncode == 0
    user_file = home / ".config" / "campaign-engine" / "config.toml"
    assert find_config(None, {"HOME": str(home)}, deep) == user_file
    assert run(tmp_path / "work", home, "init").returncode == 0
    assert find_config(None, {"HOME": str(home)}, deep) == tmp_path / "work" / "config.toml"
    # $CAMPAIGN_CONFIG and --config come first, and must exist
    assert find_config(None, {"CAMPAIGN_CONFIG": str(user_file)}, deep) == user_file
    assert find_config("../../config.toml", {}, deep) == tmp_path / "work" / "config.toml"
    with pytest.raises(
        ConfigError, match=r"missing.toml: config file not found \(named by --config"
    ):
        find_config("missing.toml", {}, deep)

    # the command reads the nearest one: its database is the one it names
    result = run(deep, home, "status")
    assert str(tmp_path / "work" / "var" / "campaign.db") in result.stderr


def test_user_config_folder_per_platform() -> None:
    env = {"HOME": "/home/ana"}
    assert user_config_path(env, "linux") == Path("/home/ana/.config/campaign-engine/config.toml")
    xdg = {**env, "XDG_CONFIG_HOME": "/cfg"}
    assert user_config_path(xdg, "linux") == Path("/cfg/campaign-engine/config.toml")
    mac = Path("/home/ana/Library/Application Support/campaign-engine/config.toml")
    assert user_config_path(env, "darwin") == mac
    win = {**env, "APPDATA": "C:/Users/ana/AppData/Roaming"}
    assert user_config_path(win, "win32") == Path(
        "C:/Users/ana/AppData/Roaming/campaign-engine/config.toml"
    )


def test_environment_alone_still_configures_a_container(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        environ={"HOME": str(tmp_path), "CAMPAIGN_SECRET": "s" * 40},
        cwd=tmp_path,
    )
    assert settings.secret == "s" * 40


READ_ONLY = [
    ["status"],
    ["report"],
    ["messages"],
    ["exclusions", "list"],
    ["suppress", "list"],
    ["users", "list"],
    ["drafts", "list"],
]


def test_read_only_commands_never_create_a_database(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(tmp_path, home, "init").returncode == 0
    database = tmp_path / "var" / "campaign.db"
    for args in READ_ONLY:
        result = run(tmp_path, home, *args)
        assert result.returncode == 1, (args, result.stdout)
        assert result.stderr.strip() == (
            f"error: database sqlite:///{database} not found (database_url in"
            f" {tmp_path / 'config.toml'}); nothing was created: check database_url, or create"
            " it with `campaign db upgrade` (PostgreSQL: createdb first)"
        ), args
        assert not (tmp_path / "var").exists(), args
    assert "database: not found" in run(tmp_path, home, "db", "current").stdout
    assert not (tmp_path / "var").exists()
    assert run(tmp_path, home, "db", "upgrade").returncode == 0
    assert run(tmp_path, home, "status").stdout.startswith("No campaigns yet")


@pytest.mark.postgres
def test_a_postgresql_database_that_does_not_exist_is_named(tmp_path: Path) -> None:
    url = os.environ.get("CAMPAIGN_TEST_DATABASE_URL")
    if not url:
        pytest.skip("needs CAMPAIGN_TEST_DATABASE_URL")
    missing = url.rsplit("/", 1)[0] + "/campaign_no_such_db"
    assert run(tmp_path, tmp_path, "init").returncode == 0
    result = run(tmp_path, tmp_path, "status", CAMPAIGN_DATABASE_URL=missing)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: database {missing} not found")
    assert run(tmp_path, tmp_path, "status", CAMPAIGN_DATABASE_URL=url).returncode == 0
