"""Sandboxed Jinja2 rendering of sequence steps, with every link rewritten into a tracked one."""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2

from campaign_engine.core.errors import SequenceError
from campaign_engine.core.tokens import TokenKind, TokenSigner
from campaign_engine.sending.sequences import PERSONAS, Sequence, Step
from campaign_engine.sending.template_plan import Split, TemplatePlan
from campaign_engine.sending.templating import template_environment
from campaign_engine.store.models import Account, Contact, Rep

__all__ = [
    "SAMPLE_RECIPIENTS",
    "Company",
    "LinkTracker",
    "Recipient",
    "RenderedEmail",
    "Renderer",
    "find_links",
    "recipient_of",
]

_URL = re.compile(r"""https?://[^\s"'<>()]+[^\s"'<>().,;:!?]""")
# What a URL never spans (_URL's first class), read from either end of a piece of text.
_LEADING_RUN = re.compile(r"""[^\s"'<>()]*""")
_TRAILING_RUN = re.compile(r"""[^\s"'<>()]*\Z""")
_URL_END = frozenset(".,;:!?")  # what a URL may run through but not end with
# The context's values that are the same for every message of a step and persona (_context):
# the rest is the recipient's, and is filled in per message (template_plan).
_CONSTANT = frozenset({"step", "offer", "company"})
_CONSTANT_ATTRIBUTES = frozenset({("contact", "persona")})


@dataclass(frozen=True)
class Recipient:
    """Everything a template may say about the person it is written to."""

    email: str
    first_name: str
    last_name: str
    title: str
    account: str
    segment: str
    rep_name: str
    rep_email: str

    @property
    def full_name(self) -> str:
        return _one_line(f"{self.first_name} {self.last_name}")


@dataclass(frozen=True)
class Company:
    name: str
    postal_address: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str
    unsubscribe_url: str  # the one in the body, for the List-Unsubscribe header too


class LinkTracker:
    """Turns a message's links into signed tracking URLs under the tracking base URL."""

    def __init__(self, signer: TokenSigner, base_url: str) -> None:
        self.signer = signer
        self.base_url = base_url.rstrip("/")

    def url(self, kind: TokenKind, message_id: int, link_index: int = 0) -> str:
        token = self.signer.sign(kind, message_id, link_index)
        suffix = ".gif" if kind is TokenKind.OPEN else ""
        return f"{self.base_url}/{kind.value}/{token}{suffix}"


def find_links(content: str) -> list[str]:
    """Every http(s) URL in an HTML or text body, in order of first appearance."""
    return list(dict.fromkeys(_URL.findall(content.replace("&amp;", "&"))))


class Renderer:
    """Renders the steps of one sequence; construction validates every template."""

    def __init__(
        self,
        templates_dir: Path,
        sequence: Sequence,
        company: Company,
        tracker: LinkTracker,
        link_registry: dict[int, list[str]] | None = None,
    ) -> None:
        self.sequence = sequence
        self.company = company
        self.tracker = tracker
        self.env = template_environment(templates_dir)
        # The steps' templates are compiled once, below; their includes (a shared footer) are
        # held alike rather than checked for changes on disk (a stat() each) for every message.
        self.env.auto_reload = False
        # The persona rule is a pure function of the title, and titles repeat across contacts.
        self._persona_of = lru_cache(maxsize=4096)(sequence.persona_for)
        self._templates = {step.number: self._compile(step) for step in sequence.steps}
        self._plans = {step.number: self._plan(step) for step in sequence.steps}
        self._parts: dict[tuple[int, str], tuple[_Part, ...] | None] = {}
        self.link_registry = link_registry or self._discover_links()
        self._link_index = {
            number: {url: index for index, url in enumerate(urls)}
            for number, urls in self.link_registry.items()
        }

    def render(
        self, step_number: int, recipient: Recipient, message_id: int, persona: str | None = None
    ) -> RenderedEmail:
        """The email for one recipient, links tracked and the open pixel added.

        The sequence's [personas] table picks the recipient's persona from their title, unless
        `persona` forces one (lint renders a sample of each).
        """
        step = self.sequence.step(step_number)
        persona = persona or self._persona_of(recipient.title)
        unsubscribe = self.tracker.url(TokenKind.UNSUBSCRIBE, message_id)
        context = self._context(step, recipient, message_id, unsubscribe, persona)
        clicks: dict[int, str] = {}

        def click(position: int) -> str:
            if position not in clicks:
                clicks[position] = self.tracker.url(TokenKind.CLICK, message_id, position)
            return clicks[position]

        index = self._link_index.get(step_number, {})

        def tracked(match: re.Match[str]) -> str:
            url = match.group(0)
            position = index.get(url.replace("&amp;", "&"))
            return url if position is None else click(position)

        parts = self._filled(step, persona, context, tracked, click)
        if parts is None:
            subject, html, text = self._render_context(step, context)
            html, text = _URL.sub(tracked, html), _URL.sub(tracked, text)
        else:
            subject, html, text = parts
        subject = " ".join(subject.split())
        pixel = (
            f'<img src="{self.tracker.url(TokenKind.OPEN, message_id)}" width="1" height="1"'
            ' alt="" style="display:block;border:0">'
        )
        html = html.replace("</body>", pixel + "</body>") if "</body>" in html else html + pixel
        return RenderedEmail(subject, html, text, unsubscribe)

    def _filled(
        self,
        step: Step,
        persona: str,
        context: dict[str, object],
        tracked: Callable[[re.Match[str]], str],
        click: Callable[[int], str],
    ) -> tuple[str, str, str] | None:
        """Subject, HTML and text from the step's plans (None: render them in full).

        Each plan is split once per step and persona (links placed, see `_Part`); a message
        then renders only the outputs that read its recipient.
        """
        key = (step.number, persona)
        if key not in self._parts:
            self._parts[key] = self._split(step, context)
        parts = self._parts[key]
        if parts is None:
            return None
        filled = [part.fill(context, tracked, click) for part in parts]
        if None in filled:
            return None
        subject, html, text = filled
        assert subject is not None and html is not None and text is not None
        return subject, html, text

    def _split(self, step: Step, context: dict[str, object]) -> tuple[_Part, ...] | None:
        plans = self._plans[step.number]
        if plans is None:
            return None
        index = self._link_index.get(step.number, {})
        subject, html, text = (plan.split(context) for plan in plans)
        parts = (_Part.of(subject, None), _Part.of(html, index), _Part.of(text, index))
        return None if None in parts else parts  # type: ignore[return-value]

    def _render(
        self,
        step: Step,
        recipient: Recipient,
        message_id: int,
        persona: str | None,
        unsubscribe_url: str,
    ) -> tuple[str, str, str]:
        context = self._context(step, recipient, message_id, unsubscribe_url, persona)
        subject, html, text = self._render_context(step, context)
        return " ".join(subject.split()), html, text

    def _render_context(self, step: Step, context: dict[str, object]) -> tuple[str, str, str]:
        """Subject (as written: not yet made one line), HTML and text, rendered in full."""
        subject_template, html_template, text_template = self._templates[step.number]
        return (
            subject_template.render(context),
            html_template.render(context),
            text_template.render(context),
        )

    def _context(
        self,
        step: Step,
        recipient: Recipient,
        message_id: int,
        unsubscribe_url: str,
        persona: str | None = None,
    ) -> dict[str, object]:
        persona = persona or self._persona_of(recipient.title)
        offer = step.offer_for(persona)
        first, last = _one_line(recipient.first_name), _one_line(recipient.last_name)
        return {
            "contact": {
                "first_name": first,
                "last_name": last,
                "full_name": f"{first} {last}".strip(),
                "title": _one_line(recipient.title),
                "email": recipient.email,
                "persona": persona,
            },
            "account": {"name": _one_line(recipient.account), "segment": recipient.segment},
            "rep": {"name": _one_line(recipient.rep_name), "email": recipient.rep_email},
            "step": {"number": step.number, "subject": step.subject, "cta": step.cta},
            "offer": {
                "name": offer.name if offer else "",
                "url": offer.url if offer else "",
                "description": offer.description if offer else "",
            },
            "contact_url": self.tracker.url(TokenKind.CONTACT, message_id),
            "unsubscribe_url": unsubscribe_url,
            "company": {"name": self.company.name, "postal_address": self.company.postal_address},
        }

    def _compile(self, step: Step) -> tuple[jinja2.Template, jinja2.Template, jinja2.Template]:
        folder = self.sequence.templates
        names = [f"{folder}/{step.template}.html.j2", f"{folder}/{step.template}.txt.j2"]
        try:
            subject = self.env.from_string(step.subject)
        except jinja2.TemplateSyntaxError as exc:
            raise SequenceError(f"steps[{step.number}].subject: {exc.message}") from exc
        try:
            html, text = (self.env.get_template(name) for name in names)
        except jinja2.TemplateNotFound as exc:
            raise SequenceError(f"step {step.number}: template {exc.name} not found") from exc
        except jinja2.TemplateSyntaxError as exc:
            raise SequenceError(f"{exc.filename}:{exc.lineno}: {exc.message}") from exc
        return subject, html, text

    def _plan(self, step: Step) -> tuple[TemplatePlan, ...] | None:
        """The step's subject, HTML and text plans; None when one of them cannot be planned."""
        folder = self.sequence.templates
        loader = self.env.loader
        assert loader is not None
        sources: list[tuple[str, str | None]] = [(step.subject, None)]
        for kind in ("html", "txt"):
            name = f"{folder}/{step.template}.{kind}.j2"
            sources.append((loader.get_source(self.env, name)[0], name))
        plans = [
            TemplatePlan.of(self.env, source, name, _CONSTANT, _CONSTANT_ATTRIBUTES)
            for source, name in sources
        ]
        return None if None in plans else tuple(plans)  # type: ignore[arg-type]

    def _discover_links(self) -> dict[int, list[str]]:
        """Render each step for a sample of every persona; the URLs found are the trackable ones.

        Also proves each template renders with the real context before anything is queued.
        """
        registry: dict[int, list[str]] = {}
        for step in self.sequence.steps:
            urls: dict[str, None] = {}
            for persona in PERSONAS:
                sample = SAMPLE_RECIPIENTS[persona]
                try:
                    unsubscribe = self.tracker.url(TokenKind.UNSUBSCRIBE, 0)
                    _, html, text = self._render(step, sample, 0, persona, unsubscribe)
                except jinja2.TemplateError as exc:
                    raise SequenceError(_describe(exc, self.sequence, step)) from exc
                own = self.tracker.base_url
                found = find_links(html + "\n" + text)
                urls.update(dict.fromkeys(url for url in found if not url.startswith(own)))
            registry[step.number] = list(urls)
        return registry


@dataclass(frozen=True)
class _Part:
    """A subject, HTML or text part of a step for one persona, as a `str.format` string: `{i}`
    for the i-th output of the recipient's, then one field per tracked link (by its place in
    the link registry). Its static text was searched for links once; each output is searched
    alone, which is what a search of the whole part finds when no URL can run from static text
    into an output or out of one (`_apart`)."""

    split: Split
    form: str
    links: tuple[int, ...]
    tracks: bool  # links tracked (HTML and text; not the subject)

    @classmethod
    def of(cls, split: Split, index: dict[str, int] | None) -> _Part | None:
        """The part (`index`: the step's tracked links; None for the subject, which has none);
        None when a URL could cross from static text into an output."""
        tracks = index is not None
        if tracks and not _apart(split.chunks):
            return None
        known = index or {}
        form: list[str] = []
        links: list[int] = []
        for number, chunk in enumerate(split.chunks):
            if number:
                form.append(f"{{{number - 1}}}")
            start = 0
            for match in _URL.finditer(chunk) if tracks else ():
                position = known.get(match.group(0).replace("&amp;", "&"))
                if position is not None:
                    form.append(_braces(chunk[start : match.start()]))
                    form.append(f"{{{split.count + len(links)}}}")
                    links.append(position)
                    start = match.end()
            form.append(_braces(chunk[start:]))
        return cls(split, "".join(form), tuple(links), tracks)

    def fill(
        self,
        context: dict[str, object],
        tracked: Callable[[re.Match[str]], str],
        click: Callable[[int], str],
    ) -> str | None:
        values = self.split.fill(context)
        if values is None:
            return None
        if self.tracks:
            values = [_URL.sub(tracked, value) if "http" in value else value for value in values]
        return self.form.format(*values, *(click(position) for position in self.links))


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _apart(chunks: tuple[str, ...]) -> bool:
    """True when no URL can run across the edge of an output placed between `chunks`.

    Before an output, the static text's last run of URL characters must not hold the start of
    a URL; after it, the next run may hold only what a URL never ends with. A run that reaches
    the far side of its chunk goes on into the neighbouring output: not apart.
    """
    last = len(chunks) - 1
    for number in range(last):
        before, after = chunks[number], chunks[number + 1]
        tail = _TRAILING_RUN.search(before)
        assert tail is not None  # the pattern matches an empty run at worst
        if (number > 0 and tail.start() == 0) or _may_start_url(tail.group(0)):
            return False
        head = _LEADING_RUN.match(after)
        assert head is not None
        if (number + 1 < last and head.end() == len(after)) or set(head.group(0)) - _URL_END:
            return False
    return True


def _may_start_url(run: str) -> bool:
    """Whether `run`, continued by other text, may be or hold the start of a URL."""
    return any(
        run.startswith(("http://", "https://"), at)
        or "http://".startswith(run[at:])
        or "https://".startswith(run[at:])
        for at in range(len(run))
        if run[at] == "h"
    )


def _one_line(value: str) -> str:
    """Collapse CR/LF and runs of spaces, so no data can break a line it is put in."""
    return " ".join(value.split())


def _describe(exc: jinja2.TemplateError, sequence: Sequence, step: Step) -> str:
    """file:line of the template frame that failed (Jinja rewrites tracebacks to template lines)."""
    where = f"{sequence.templates}/{step.template}"
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2"):
            where = f"{frame.filename}:{frame.lineno}"
            break
    return f"{where}: {exc}"


SAMPLE_RECIPIENTS: dict[str, Recipient] = {
    "practitioner": Recipient(
        "sample.dev@example.com",
        "Sam",
        "Sample",
        "Software Engineer",
        "Sample Co",
        "SMB",
        "Rita Rep",
        "rita.rep@example.com",
    ),
    "management": Recipient(
        "sample.ciso@example.com",
        "Morgan",
        "Sample",
        "CISO",
        "Sample Co",
        "SMB",
        "Rita Rep",
        "rita.rep@example.com",
    ),
}


def recipient_of(contact: Contact, account: Account, rep: Rep | None) -> Recipient:
    return Recipient(
        email=contact.email,
        first_name=contact.first_name,
        last_name=contact.last_name,
        title=contact.title,
        account=account.name,
        segment=account.segment,
        rep_name=rep.name if rep else "",
        rep_email=rep.email if rep else "",
    )
