"""The one Jinja2 environment factory: sandboxed, strict about undefined names, autoescaped.

Templates are project data an operator may edit, so every environment is sandboxed; a missing
variable is an error, never an empty string in a customer's inbox.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["template_environment"]


def template_environment(
    directory: Path, *, pages: bool = False, trim: bool = False
) -> SandboxedEnvironment:
    """Mail templates (default) escape only `*.html.j2` files, so the text part stays as written,
    and keep the trailing newline; `pages` escape everything. `trim` drops block-tag whitespace."""
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True if pages else jinja2.select_autoescape(["html.j2", "html"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=not pages,
        trim_blocks=trim,
        lstrip_blocks=trim,
    )
