"""What the person wrote: the reply without quoted history and signature (PURE)."""

from __future__ import annotations

import re

from mailparser_reply import EmailReplyParser  # type: ignore[import-untyped]

__all__ = ["reply_text"]

LANGUAGES = ["en", "de", "fr", "es"]
_QUOTED = re.compile(r"^\s*>.*$", re.MULTILINE)


def reply_text(body: str, limit: int = 2000) -> str:
    """The newest part of a reply, signature and quoted history stripped; at most `limit`
    characters (cut at a word, marked with an ellipsis)."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    try:
        replies = EmailReplyParser(languages=LANGUAGES).read(body).replies
        text = replies[0].body if replies else ""
    except Exception:  # a parser failure must not lose the reply: fall back to the raw text
        text = ""
    text = (text or _QUOTED.sub("", body)).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return text
