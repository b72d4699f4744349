"""Mail and page templates read dict context the way Jinja's sandbox does, only faster."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from jinja2.sandbox import SandboxedEnvironment

from campaign_engine.sending.templating import template_environment

CONTEXT = {
    "contact": {"first_name": "Ada", "items": "a key named like a dict method", "_x": 1},
    "rows": [{"name": "n"}],
}


def _render(env: jinja2.Environment, source: str) -> str:
    try:
        return env.from_string(source).render(CONTEXT)
    except jinja2.exceptions.SecurityError as exc:
        return f"SecurityError: {exc}"
    except jinja2.exceptions.UndefinedError as exc:
        return f"UndefinedError: {exc}"


@pytest.mark.parametrize(
    "source",
    [
        "{{ contact.first_name }}",
        "{{ contact['first_name'] }}",
        "{{ contact.items is callable }}",  # the attribute wins over the key, as in Jinja
        "{{ contact._x }}",
        "{{ contact.missing }}",
        "{{ contact.__class__ }}",
        "{{ contact.__class__.__mro__ }}",
        "{{ rows[0].name }}",
        "{{ contact.first_name.__class__.__init__.__globals__ }}",
    ],
)
def test_same_result_as_the_stock_sandbox(source: str, tmp_path: Path) -> None:
    stock = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=True)
    assert _render(template_environment(tmp_path, pages=True), source) == _render(stock, source)
