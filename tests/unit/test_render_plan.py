"""A step rendered from its plan (the static parts once, the recipient's outputs per message)
is byte for byte what full Jinja rendering gives, for every shipped template and for templates
that test the plan's edges; what a plan cannot reproduce is rendered in full."""

from __future__ import annotations

import random
from pathlib import Path

import jinja2
import pytest

from campaign_engine.core.tokens import TokenSigner
from campaign_engine.sending.render import Company, LinkTracker, Recipient, Renderer
from campaign_engine.sending.sequences import Offer, Sequence, Step, load_sequence
from campaign_engine.sending.template_plan import TemplatePlan
from campaign_engine.sending.templating import template_environment

ROOT = Path(__file__).resolve().parents[2]
REGISTERED = "https://about.gitlab.com/webcast/automate-security-ci/?utm_medium=email"
PIECES = [
    "Ada", "O'Brien", "<b>", "</body>", "&amp;", "A&B", '"q"', "é", "日本", "🙂", "{", "}",
    "{0}", "{{ x }}", "\x00", "=", ".", "  ", "\n", "\r\n", "\t", " ", "", "http://evil.example/x",
    REGISTERED, "https://", "mailto:a@b.c", ",", ")", "x" * 120,
]  # fmt: skip
TITLES = ["CISO", "Software Engineer", "", "VP Engineering", "Team Lead <script>"]


class FullRenderer(Renderer):
    """The reference: every message rendered in full by Jinja, as before plans."""

    def _plan(self, step: Step) -> None:
        return None


def value(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.choice([0, 1, 1, 2, 3, 6])))


def recipients(count: int, seed: int = 7) -> list[Recipient]:
    rng = random.Random(seed)
    return [
        Recipient(
            email=f"{value(rng).strip() or 'x'}{i}@example.com",
            first_name=value(rng),
            last_name=value(rng),
            title=rng.choice(TITLES) + value(rng) * (i % 2),
            account=value(rng),
            segment="SMB",
            rep_name=value(rng),
            rep_email=f"rep{i}@vendor.example",
        )
        for i in range(count)
    ]


def renderers(
    templates: Path, sequence: Sequence, company: Company
) -> tuple[Renderer, FullRenderer]:
    def tracker() -> LinkTracker:
        return LinkTracker(TokenSigner("s" * 32), "https://t.example.com/")

    full = FullRenderer(templates, sequence, company, tracker())
    return Renderer(templates, sequence, company, tracker(), full.link_registry), full


@pytest.mark.parametrize("key", ["premium-to-ultimate", "premium-to-ultimate-personas"])
@pytest.mark.parametrize(
    "company",
    [
        Company("GitLab", "268 Bush Street\nSan Francisco, CA 94104"),
        Company("A&B <Co> {0}", "1 Rue d'Été\r\nhttps://about.gitlab.com/webcast/automate"),
    ],
)
def test_shipped_steps_planned_are_byte_identical(key: str, company: Company) -> None:
    sequence = load_sequence(ROOT / "sequences", key)
    planned, full = renderers(ROOT / "templates", sequence, company)
    for number, recipient in enumerate(recipients(400)):
        for step in sequence.steps:
            message_id = 1000 + number
            assert planned.render(step.number, recipient, message_id) == full.render(
                step.number, recipient, message_id
            ), (step.number, recipient)
    # The plans were used: the shipped templates are all plannable.
    assert all(plan is not None for plan in planned._plans.values())


EDGES = {  # template -> (source, whether its plan is used)
    # outputs against URLs, braces and markers in the static text, constant filters
    "adjacent": (
        "{{ contact.first_name }} https://about.gitlab.com/x {{ account.name }}\n"
        "see https://about.gitlab.com/webcast/automate-security-ci/?utm_medium=email, "
        "{{ rep.name }}.\n{{ '{' }}0} {{ company.name|upper }} {{ contact.email|e }}\n"
        '<a href="{{ offer.url }}">{{ offer.name }}</a> {{ contact_url }}\n'
        "{% if contact.persona == 'management' %}M {{ contact.title }}{% else %}P{% endif %}\n",
        True,
    ),
    # a URL that runs into an output: the part is rendered in full
    "crossing": ("https://x.example/{{ account.name }} and http{{ contact.first_name }}\n", False),
    "crossing after": ("{{ contact.first_name }}https://about.gitlab.com/x\n", False),
    "between outputs": ("{{ contact.first_name }},{{ account.name }}\n", False),
    # logic on the recipient's data: rendered in full
    "logic": ("{% if contact.first_name %}Hi {{ contact.first_name }}{% endif %}\n", False),
    "loop": ("{% for c in contact.first_name %}{{ c }}{% endfor %}\n", False),
    "filters": ("{{ contact.first_name|upper }} {{ (account.name or 'you')|truncate(9) }}\n", True),
}


@pytest.mark.parametrize("case", list(EDGES))
def test_edge_templates_planned_or_not_are_byte_identical(case: str, tmp_path: Path) -> None:
    source, used = EDGES[case]
    folder = tmp_path / "seq"
    folder.mkdir()
    for kind in ("html", "txt"):
        (folder / f"e.{kind}.j2").write_text(
            f"<html><body>{source}</body></html>\n" if kind == "html" else source
        )
    offer = Offer("The {offer} & more", REGISTERED)
    step = Step(1, 0, "Hi {{ contact.first_name }} & co", "e", "cta", offers=(offer,))
    sequence = Sequence("seq", "Seq", "seq", (step,))
    planned, full = renderers(tmp_path, sequence, Company("Co {}", "Street"))
    for number, recipient in enumerate(recipients(300, seed=len(case))):
        assert planned.render(1, recipient, number) == full.render(1, recipient, number)
    assert {parts is not None for parts in planned._parts.values()} == {used}


CONSTANT = frozenset({"step", "offer", "company"})
PERSONA = frozenset({("contact", "persona")})


@pytest.mark.parametrize(
    ("source", "planned"),
    [
        ("Hi {{ contact.first_name or 'there' }}, {{ step.subject|upper }}", True),
        ("{% if contact.persona == 'x' %}{{ account.name }}{% endif %}", True),
        ("{% if contact.first_name %}x{% endif %}", False),
        ("{% for o in step.offers %}{{ o }}{% endfor %}", False),
        ("{% set x = 1 %}{{ x }}", False),
        ("{{ step.subject.upper() }}", False),
        ("{{ [1, 2]|random }}", False),
        ("{{ range(3)|random }} {{ contact.first_name.upper() }}", True),  # per message
        ("{{ contact.first_name.upper() }} {{ cycler(1, 2).next() }}", True),
        ("{% include 'missing.j2' %}", False),
        ("{% macro m() %}x{% endmacro %}{{ m() }}", False),
    ],
)
def test_what_a_plan_takes(source: str, planned: bool, tmp_path: Path) -> None:
    env = template_environment(tmp_path)
    assert (TemplatePlan.of(env, source, "t.txt.j2", CONSTANT, PERSONA) is not None) is planned


def test_recipient_outputs_stay_sandboxed(tmp_path: Path) -> None:
    env = template_environment(tmp_path)
    plan = TemplatePlan.of(env, "{{ contact.first_name.__class__ }}", "t.txt.j2", CONSTANT, PERSONA)
    assert plan is not None
    split = plan.split({"contact": {"first_name": "Ada"}})
    with pytest.raises(jinja2.exceptions.SecurityError):
        split.fill({"contact": {"first_name": "Ada"}})
