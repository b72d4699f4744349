"""A mail template split into what is the same for every recipient and what is not.

Most of a campaign email is the same for every recipient of a step and persona. A plan renders
a template once with a marker where an output reads the recipient (`{{ account.name }}`,
`{{ contact.first_name or "there" }}`, `{{ unsubscribe_url }}`); those outputs become a small
template of their own, rendered for each message by the same sandboxed environment, so
escaping, filters and attribute rules stay Jinja's. Only templates this reproduces byte for
byte are planned: text, outputs, `if` on constant values and includes of the same escaping;
a loop, an assignment, a macro, a call or the random filter outside those outputs, or a test
of the recipient's data, leaves the template to full rendering (`TemplatePlan.of` is None).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import jinja2
from jinja2 import nodes
from jinja2.runtime import new_context

__all__ = ["Split", "TemplatePlan"]

_INCLUDE_DEPTH = 8  # deeper (or recursive) includes are left to full rendering


@dataclass(frozen=True)
class Split:
    """A template rendered for one set of constant values: `chunks` of static text around the
    outputs that `values` renders for each message (one string each, in order)."""

    chunks: tuple[str, ...]  # len(chunks) == count + 1
    values: jinja2.Template
    count: int
    globals: dict[str, object]  # the template's globals, flattened once

    def fill(self, context: Mapping[str, object]) -> list[str] | None:
        """The outputs for one message's context; None if they did not come out one each.

        What `Template.render` does, less its per-call reading of the globals (a ChainMap read
        key by key, twice): the same names and values, in a context of its own.
        """
        if not self.count:
            return []
        values = self.values
        scope = {**self.globals, **context}
        try:
            rendered = list(
                values.root_render_func(
                    new_context(
                        values.environment, values.name, values.blocks, scope, True, self.globals
                    )
                )
            )
        except Exception:
            values.environment.handle_exception()
        return rendered if len(rendered) == self.count else None


class TemplatePlan:
    """A template compiled with markers in place of the outputs that read per-message names.

    `constant` names (and `constant_attributes`, such as ("contact", "persona")) are the ones
    whose values are the same for every message the plan is split for; any other name is
    per-message.
    """

    def __init__(
        self,
        env: jinja2.Environment,
        skeleton: jinja2.Template,
        outputs: list[nodes.Expr],
        name: str | None,
        marker: str,
    ) -> None:
        self._env = env
        self._skeleton = skeleton
        self._outputs = outputs
        self._name = name
        self._marker = re.compile(re.escape(marker) + r"(\d+)\x00")

    @classmethod
    def of(
        cls,
        env: jinja2.Environment,
        source: str,
        name: str | None,
        constant: frozenset[str],
        constant_attributes: frozenset[tuple[str, str]],
    ) -> TemplatePlan | None:
        """The plan of `source` (the template `name`, None for a string template), or None when
        the template does something a plan cannot reproduce exactly."""
        tree = env.parse(source, name)
        if not _inline_includes(env, tree, name, 0):
            return None
        marker = f"\x00{secrets.token_hex(8)}:"
        outputs: list[nodes.Expr] = []
        walker = _Walker(constant, constant_attributes, marker, outputs)
        if not walker.statements(tree.body):
            return None
        tree.set_environment(env)
        skeleton = _compiled(env, tree, name)
        return cls(env, skeleton, outputs, name, marker)

    def split(self, context: Mapping[str, object]) -> Split:
        """Render the constant parts with `context`; the outputs reached stay to be filled."""
        pieces = self._marker.split(self._skeleton.render(context))
        chunks, reached = pieces[0::2], [int(index) for index in pieces[1::2]]
        body: list[nodes.Node] = [
            nodes.Output([self._outputs[index]], lineno=self._outputs[index].lineno)
            for index in reached
        ]
        tree = nodes.Template(body, lineno=1)
        tree.set_environment(self._env)
        values = _compiled(self._env, tree, self._name)
        return Split(tuple(chunks), values, len(reached), dict(values.globals))


def _compiled(env: jinja2.Environment, tree: nodes.Template, name: str | None) -> jinja2.Template:
    # Compiled under the template's own name: autoescaping is chosen by it.
    return env.template_class.from_code(env, env.compile(tree, name), env.make_globals(None), None)


def _inline_includes(
    env: jinja2.Environment, node: nodes.Node, name: str | None, depth: int
) -> bool:
    """Replace each `{% include "x" %}` by the body of x (what Jinja renders for it when the
    template sets no variables); False for an include that cannot be inlined exactly."""
    for parent in [node, *node.find_all(nodes.Node)]:
        for field in ("body", "else_"):
            statements = getattr(parent, field, None)
            if not isinstance(statements, list):
                continue
            inlined: list[nodes.Node] = []
            for statement in statements:
                if not isinstance(statement, nodes.Include):
                    inlined.append(statement)
                    continue
                body = _included(env, statement, name, depth)
                if body is None:
                    return False
                inlined.extend(body)
            statements[:] = inlined
    return True


def _included(
    env: jinja2.Environment, include: nodes.Include, name: str | None, depth: int
) -> list[nodes.Node] | None:
    target = include.template
    if (
        depth >= _INCLUDE_DEPTH
        or not isinstance(target, nodes.Const)
        or not isinstance(target.value, str)
        or not include.with_context
        or include.ignore_missing
        or env.loader is None
        or _escapes(env, target.value) != _escapes(env, name)
    ):
        return None
    try:
        source, _, _ = env.loader.get_source(env, target.value)
        tree = env.parse(source, target.value)
    except jinja2.TemplateError:  # missing or broken: full rendering says so, as it does today
        return None
    if not _inline_includes(env, tree, target.value, depth + 1):
        return None
    return list(tree.body)


def _escapes(env: jinja2.Environment, name: str | None) -> bool:
    autoescape = env.autoescape
    return bool(autoescape(name) if callable(autoescape) else autoescape)


class _Walker:
    """Checks that a template is made only of what a plan reproduces, and replaces each output
    that reads a per-message name with a numbered marker."""

    def __init__(
        self,
        constant: frozenset[str],
        constant_attributes: frozenset[tuple[str, str]],
        marker: str,
        outputs: list[nodes.Expr],
    ) -> None:
        self.constant = constant
        self.constant_attributes = constant_attributes
        self.marker = marker
        self.outputs = outputs

    def statements(self, body: list[nodes.Node]) -> bool:
        return all(self.statement(node) for node in body)

    def statement(self, node: nodes.Node) -> bool:
        if isinstance(node, nodes.Output):
            return self.output(node)
        if isinstance(node, nodes.If):
            return (
                self.constant_expression(node.test)
                and self.statements(node.body)
                and all(self.statement(branch) for branch in node.elif_)
                and self.statements(node.else_)
            )
        return False  # for, set, macro, call, block, extends, import, autoescape, with...

    def output(self, node: nodes.Output) -> bool:
        for position, child in enumerate(node.nodes):
            if isinstance(child, nodes.TemplateData):
                continue
            if self.reads_message(child):
                node.nodes[position] = nodes.TemplateData(
                    f"{self.marker}{len(self.outputs)}\x00", lineno=child.lineno
                )
                self.outputs.append(child)
            elif not self.constant_expression(child):
                return False
        return True

    def constant_expression(self, expression: nodes.Node) -> bool:
        """Rendered once for every message: it must read only constant names, deterministically."""
        if self.reads_message(expression):
            return False
        for node in _self_and_descendants(expression):
            if isinstance(node, nodes.Call):
                return False
            if isinstance(node, nodes.Filter) and node.name == "random":
                return False
        return True

    def reads_message(self, expression: nodes.Node) -> bool:
        constant_reads = {
            id(node.node)
            for node in _self_and_descendants(expression)
            if isinstance(node, nodes.Getattr)
            and isinstance(node.node, nodes.Name)
            and (node.node.name, node.attr) in self.constant_attributes
        }
        return any(
            node.name not in self.constant and id(node) not in constant_reads
            for node in _self_and_descendants(expression)
            if isinstance(node, nodes.Name)
        )


def _self_and_descendants(node: nodes.Node) -> Iterator[nodes.Node]:
    yield node
    yield from node.find_all(nodes.Node)
