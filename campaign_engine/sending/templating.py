"""The one Jinja2 environment factory: sandboxed, strict about undefined names, autoescaped.

Templates are project data an operator may edit, so every environment is sandboxed; a missing
variable is an error, never an empty string in a customer's inbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["template_environment"]

_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Sandbox(SandboxedEnvironment):
    """The sandbox with a fast path for `contact.first_name` on a plain dict context.

    Jinja prefers an attribute to a key: on a dict, that is a failed getattr (an exception
    raised and caught, for every variable of every message) before the key is read. A name
    that is not an attribute of dict gives the same result straight from the key.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def template_environment(
    directory: Path, *, pages: bool = False, trim: bool = False
) -> SandboxedEnvironment:
    """Mail templates (default) escape only `*.html.j2` files, so the text part stays as written,
    and keep the trailing newline; `pages` escape everything. `trim` drops block-tag whitespace."""
    return _Sandbox(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True if pages else jinja2.select_autoescape(["html.j2", "html"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=not pages,
        trim_blocks=trim,
        lstrip_blocks=trim,
    )
