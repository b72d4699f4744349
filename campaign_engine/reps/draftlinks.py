"""PURE link handling for rep drafts: check the links a rep wrote, then track them at send time.

A draft keeps offer links as their original URLs (readable, editable around) and the engine's own
pages as placeholders; at send time registered links become signed click URLs. Anything that looks
like a campaign link but is not exactly one would go out untracked, so it is refused instead.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

from campaign_engine.core.errors import CampaignEngineError

__all__ = [
    "CONTACT_PLACEHOLDER",
    "PLACEHOLDERS",
    "UNSUBSCRIBE_PLACEHOLDER",
    "DraftLinkError",
    "check_links",
    "fill_placeholders",
    "text_to_html",
    "track_links",
]

CONTACT_PLACEHOLDER = "{{contact_url}}"
UNSUBSCRIBE_PLACEHOLDER = "{{unsubscribe_url}}"
PLACEHOLDERS = (CONTACT_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER)

_URL = re.compile(r"""https?://[^\s"'<>()]+[^\s"'<>().,;:!?]""")
_PLACEHOLDER = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")


class DraftLinkError(CampaignEngineError, ValueError):
    """A draft contains a link that would leave the campaign's tracking."""


def check_links(
    body: str, step: int, registry: Mapping[int, Sequence[str]], tracking_base_url: str
) -> None:
    """Refuse links that look like a campaign link but would not be tracked in email `step`.

    Allowed: the step's registered links exactly, the placeholders, and unrelated URLs.
    """
    for name in _PLACEHOLDER.findall(body):
        if "{{" + name + "}}" not in PLACEHOLDERS:
            raise DraftLinkError(
                f"unknown placeholder {{{{{name}}}}}: only {' and '.join(PLACEHOLDERS)} are filled"
                " in when the draft is sent; write the link itself instead"
            )
    own = set(registry.get(step, ()))
    base = tracking_base_url.rstrip("/") + "/"
    for found in _URL.findall(body):
        url = found.replace("&amp;", "&")
        if url in own:
            continue
        if url.startswith(base):
            raise DraftLinkError(
                f"{url} is a tracking link (copied from a sent email?); write the original link:"
                " tracking is added to every campaign link when the draft is sent"
            )
        for number, urls in sorted(registry.items()):
            for registered in urls:
                if url == registered:
                    raise DraftLinkError(
                        f"{url} is the link of email {number} and can only be tracked there;"
                        f" remove it from email {step} or send email {number} instead"
                    )
                if _same_page(url, registered):
                    raise DraftLinkError(
                        f"{url} points to the campaign link {registered} but differs from it, so"
                        f" it would not be tracked; use {registered} exactly"
                    )


def fill_placeholders(body: str, values: Mapping[str, str]) -> str:
    """Replace each placeholder with its URL (the engine's tracked pages of one message)."""
    for placeholder, url in values.items():
        body = body.replace(placeholder, url)
    return body


def track_links(body: str, links: Sequence[str], tracked: Callable[[int], str]) -> str:
    """Rewrite every registered link into `tracked(index)`; other URLs stay as they are."""
    index = {url: position for position, url in enumerate(links)}

    def replace(match: re.Match[str]) -> str:
        position = index.get(match.group(0).replace("&amp;", "&"))
        return match.group(0) if position is None else tracked(position)

    return _URL.sub(replace, body)


def text_to_html(text: str, footer_html: str, title: str) -> str:
    """A plain HTML part for a rep-edited text: paragraphs, line breaks, clickable links."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        escaped = html.escape(block, quote=True)
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        paragraphs.append(f'<p style="margin:0 0 16px;">{linked.replace(chr(10), "<br>")}</p>')
    body = "\n".join(paragraphs)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
        '<div style="max-width:600px;margin:0 auto;padding:24px 16px;font-family:Arial,Helvetica,'
        'sans-serif;font-size:16px;line-height:1.5;color:#222222;">\n'
        f"{body}\n{footer_html}\n</div>\n</body>\n</html>\n"
    )


def _same_page(url: str, registered: str) -> bool:
    a, b = urlsplit(url), urlsplit(registered)
    return (a.hostname or "") == (b.hostname or "") and a.path.rstrip("/") == b.path.rstrip("/")
