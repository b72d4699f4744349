"""`campaign init`: start a config.toml where `campaign` will find it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from campaign_engine.cli.app import out
from campaign_engine.core.config import DEFAULT_CONFIG, user_config_path
from campaign_engine.core.config_init import write_config


def init(
    path: Annotated[
        Path | None,
        typer.Argument(help="File to write (default: ./config.toml).", show_default=False),
    ] = None,
    user: Annotated[
        bool,
        typer.Option(
            "--user",
            help="Write it in your user config folder (found from any directory).",
        ),
    ] = False,
) -> None:
    """Write a commented config.toml with a fresh secret (an existing file is left alone)."""
    if path is not None and user:
        raise typer.BadParameter("give a PATH or --user, not both", param_hint="--user")
    target = user_config_path(os.environ) if user else (path or Path(DEFAULT_CONFIG))
    written = write_config(target)
    out.print(f"wrote {written} (with a fresh secret)")
    out.print(
        "Set from, company_name, postal_address, tracking_base_url and [smtp] in it,"
        " then run `campaign doctor`."
    )
