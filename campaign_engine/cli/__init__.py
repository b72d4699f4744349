"""The `campaign` command (entry point `campaign_engine.cli:main`)."""

from __future__ import annotations

from .app import app, main

__all__ = ["app", "main"]
