"""Sandboxed Jinja2 rendering of sequence steps, with every link rewritten into a tracked one."""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2

from campaign_engine.core.errors import SequenceError
from campaign_engine.core.tokens import TokenKind, TokenSigner
from campaign_engine.sending.sequences import PERSONAS, Sequence, Step
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
        unsubscribe = self.tracker.url(TokenKind.UNSUBSCRIBE, message_id)
        subject, html, text = self._render(step, recipient, message_id, persona, unsubscribe)
        index = self._link_index.get(step_number, {})

        def tracked(match: re.Match[str]) -> str:
            url = match.group(0)
            position = index.get(url.replace("&amp;", "&"))
            if position is None:
                return url
            return self.tracker.url(TokenKind.CLICK, message_id, position)

        html = _URL.sub(tracked, html)
        text = _URL.sub(tracked, text)
        pixel = (
            f'<img src="{self.tracker.url(TokenKind.OPEN, message_id)}" width="1" height="1"'
            ' alt="" style="display:block;border:0">'
        )
        html = html.replace("</body>", pixel + "</body>") if "</body>" in html else html + pixel
        return RenderedEmail(subject, html, text, unsubscribe)

    def _render(
        self,
        step: Step,
        recipient: Recipient,
        message_id: int,
        persona: str | None,
        unsubscribe_url: str,
    ) -> tuple[str, str, str]:
        subject_template, html_template, text_template = self._templates[step.number]
        context = self._context(step, recipient, message_id, unsubscribe_url, persona)
        subject = " ".join(subject_template.render(context).split())
        return subject, html_template.render(context), text_template.render(context)

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
