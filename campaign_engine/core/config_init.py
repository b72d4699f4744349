"""`campaign init`: a new, commented config.toml with a secret of its own."""

from __future__ import annotations

import secrets
from importlib import resources
from pathlib import Path

from campaign_engine.core.errors import ConfigError

__all__ = ["write_config"]

TEMPLATE = "config_template.toml"


def write_config(path: Path) -> Path:
    """Write the commented starting config to `path` (its folder made if needed), with a fresh
    random secret; an existing file is never overwritten."""
    if path.exists():
        raise ConfigError(
            f"{path}: already exists; edit it, or pass another path to `campaign init`"
        )
    template = resources.files("campaign_engine.core").joinpath(TEMPLATE).read_text("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(template.replace("{secret}", secrets.token_urlsafe(32)), encoding="utf-8")
    return path.resolve()
