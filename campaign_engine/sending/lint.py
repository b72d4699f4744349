"""`campaign lint`: render every step for a sample contact of each persona and check the result
the way a mailbox provider and the law would, before anything is launched.

The checks are pure functions of a rendered email; SpamAssassin (when installed) runs on the
complete MIME message, offline (`--local`), and its score is reported per step and persona.
"""

from __future__ import annotations

import html as html_lib
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime, parseaddr
from urllib.parse import urlsplit

from campaign_engine.core.config import Settings
from campaign_engine.core.tokens import TokenKind
from campaign_engine.sending.campaigns import renderer_for
from campaign_engine.sending.mime import build_mime, format_address
from campaign_engine.sending.render import SAMPLE_RECIPIENTS, Recipient, RenderedEmail, Renderer
from campaign_engine.sending.sequences import PERSONAS, load_sequence

__all__ = [
    "SPAM_LIMIT",
    "Finding",
    "LintReport",
    "StepLint",
    "check_email",
    "lint_sequence",
    "spamassassin_available",
    "spamassassin_score",
]

SUBJECT_LIMIT = 78  # characters; longer subjects are cut off and folded
SPAM_LIMIT = 5.0  # SpamAssassin's own "this is spam" threshold: an error at or above it
_IMAGE_ONLY_BYTES = 3200  # SpamAssassin: HTML with an image and less source than this scores
_MESSAGE_ID = 1  # the sample message every link and token is rendered for
_HREF = re.compile(r"""<a\b[^>]*?\bhref\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ALT = re.compile(r"""\balt\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
_HTML_IN_TEXT = re.compile(r"</?(a|p|div|br|span|img|table)\b", re.IGNORECASE)
_SA_STATUS = re.compile(
    r"^X-Spam-Status:.*?score=(-?[\d.]+).*?tests=(.*?)(?:autolearn|version|$)",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class Finding:
    level: str  # "error" or "warning"
    message: str


@dataclass
class StepLint:
    step: int
    persona: str
    subject: str
    findings: list[Finding] = field(default_factory=list)
    spam_score: float | None = None
    spam_tests: str = ""


@dataclass
class LintReport:
    sequence: str
    steps: list[StepLint]
    spamassassin: bool

    @property
    def errors(self) -> int:
        return sum(1 for s in self.steps for f in s.findings if f.level == "error")


def lint_sequence(settings: Settings, key: str, spam: bool = True) -> LintReport:
    """Render and check every (step, persona); SequenceError when it does not even render."""
    sequence = load_sequence(settings.sequences_dir, key)
    renderer = renderer_for(settings, sequence)
    rendered: list[tuple[StepLint, RenderedEmail]] = []
    for step in sequence.steps:
        for persona in PERSONAS:
            email = renderer.render(step.number, _lint_sample(persona), _MESSAGE_ID, persona)
            lint = StepLint(step.number, persona, email.subject)
            lint.findings.extend(check_email(email, settings, renderer))
            rendered.append((lint, email))
    use_spam = spam and spamassassin_available()
    if use_spam:
        messages = [_mime(settings, key, email) for _, email in rendered]
        with ThreadPoolExecutor(max_workers=4) as pool:
            scores = list(pool.map(spamassassin_score, messages))
        for (lint, _), (score, tests) in zip(rendered, scores, strict=True):
            lint.spam_score, lint.spam_tests = score, tests
            if score >= SPAM_LIMIT:
                lint.findings.append(
                    Finding("error", f"SpamAssassin scores {score:.1f} (>= {SPAM_LIMIT}): {tests}")
                )
    return LintReport(key, [lint for lint, _ in rendered], use_spam)


def _lint_sample(persona: str) -> Recipient:
    """The persona's sample, but not the one links were discovered with: a link built from
    contact data (which the tracker cannot know in advance) then shows up as untracked."""
    return replace(
        SAMPLE_RECIPIENTS[persona],
        email=f"lint.{persona}@example.org",
        first_name="Lee",
        last_name="Lint",
        account="Lint Check Co",
    )


def check_email(email: RenderedEmail, settings: Settings, renderer: Renderer) -> list[Finding]:
    """Every content problem of one rendered email (pure)."""
    tracking = renderer.tracker.base_url
    unsubscribe = renderer.tracker.url(TokenKind.UNSUBSCRIBE, _MESSAGE_ID)
    findings: list[Finding] = []

    def add(level: str, text: str) -> None:
        findings.append(Finding(level, text))

    if len(email.subject) > SUBJECT_LIMIT:
        add("error", f"subject is {len(email.subject)} characters (limit {SUBJECT_LIMIT})")
    if not email.subject.strip():
        add("error", "subject is empty")
    text = email.text.strip()
    if not text:
        add("error", "text part is missing or empty")
    elif _HTML_IN_TEXT.search(text):
        add("warning", "text part contains HTML tags: it should read well on its own")
    if "<img" in email.html.lower() and len(email.html) <= _IMAGE_ONLY_BYTES:
        add(
            "warning",
            f"HTML is {len(email.html):,} bytes and has an image (the open pixel): SpamAssassin's"
            f" HTML_IMAGE_ONLY rules add up to 2.8 points below {_IMAGE_ONLY_BYTES:,} bytes",
        )
    plain_html = html_lib.unescape(email.html)
    for part, body in (("HTML", plain_html), ("text", email.text)):
        if not body.strip():
            continue
        if unsubscribe not in body:
            add("error", f"{part} part has no unsubscribe link ({{{{ unsubscribe_url }}}})")
        address = (
            settings.postal_address.strip().splitlines()[0]
            if settings.postal_address.strip()
            else ""
        )
        if not address:
            add("error", "postal_address is not set in the config: the footer has no address")
        elif address not in body:
            add("error", f"{part} part has no postal address ({{{{ company.postal_address }}}})")
    for href in (html_lib.unescape(m.group(2)).strip() for m in _HREF.finditer(email.html)):
        problem = _link_problem(href, tracking)
        if problem:
            add("error", problem)
    for tag in _IMG.findall(email.html):
        alt = _ALT.search(tag)
        pixel = tracking + "/o/" in tag
        if alt is None and not pixel:
            add("error", f"image without alt text: {_short(tag)}")
        elif alt is not None and not alt.group(2).strip() and not pixel:
            add("warning", f"image with empty alt text: {_short(tag)}")
    for url in re.findall(r"https?://\S+", email.text):
        if not url.startswith(tracking):
            add("error", f"untracked link in text part: {_short(url)}")
    return findings


def _link_problem(href: str, tracking: str) -> str | None:
    if href.startswith(("mailto:", "tel:", "#")):
        return None
    parts = urlsplit(href)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or re.search(r"[\s{}<>\"]", href)
        or ("." not in parts.hostname and parts.hostname != "localhost")
    ):
        return f"broken link (not a valid http(s) URL): {_short(href)!r}"
    if not href.startswith(tracking + "/"):
        return f"untracked link (not rewritten to {tracking}): {_short(href)}"
    return None


def _short(value: str, limit: int = 90) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _mime(settings: Settings, key: str, email: RenderedEmail) -> bytes:
    sender = parseaddr(settings.from_address)[1]
    domain = sender.rsplit("@", 1)[-1] or "localhost"
    sample = _lint_sample(PERSONAS[0])
    return build_mime(
        from_header=format_address(settings.from_address),
        to_header=format_address(sample.email, sample.full_name),
        subject=email.subject,
        html=email.html,
        text=email.text,
        message_id=f"<lint.1@{domain}>",
        date=format_datetime(datetime(2026, 1, 6, 10, tzinfo=UTC)),
        extra_headers=[
            ("List-Unsubscribe", "<https://unsubscribe.invalid/u>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("List-Id", f"{key} <{key}.{domain}>"),
        ],
    )


def spamassassin_available() -> bool:
    return shutil.which("spamassassin") is not None


def spamassassin_score(message: bytes) -> tuple[float, str]:
    """(score, rule names) from `spamassassin --local --test-mode`: default rules, no network,
    no Bayes (so the score does not drift as it learns), nothing written to the user's home."""
    completed = subprocess.run(
        [
            "spamassassin",
            "--local",
            "--test-mode",
            "--nocreate-prefs",
            "--cf=use_bayes 0",
            "--cf=bayes_auto_learn 0",
        ],
        input=message,
        capture_output=True,
        timeout=120,
        check=False,
    )
    headers = completed.stdout.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    match = _SA_STATUS.search(headers.decode("utf-8", "replace"))
    if match is None:
        raise RuntimeError(f"spamassassin gave no score: {completed.stderr.decode()[-300:]}")
    tests = " ".join(match.group(2).replace(",", " ").split())
    return float(match.group(1)), tests
