"""Templates: Jinja2 in a sandbox, compiled once per run, checked at save time.

The sandbox is Jinja's immutable one, plus a budget on what a render may cost (length, loop
iterations, time: :mod:`herald.templating.budget`) and link tracking compiled into the template
(:mod:`herald.templating.track_links`). Save-time checks live in
:mod:`herald.templating.checks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.nodes import Impossible
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

from herald.templating import budget
from herald.templating.budget import MAX_SIZE, BudgetedTemplate
from herald.templating.countdown import countdown_filter
from herald.templating.problems import TemplateProblem
from herald.templating.track_links import LinkTracker, TrackExtension, tracking

TEMPLATE_NAMES = ("contact", "campaign", "coupon", "unsubscribe_url", "event", "promotion", "now")
MAX_POWER_BITS = 4_096
# what a template may not do: there is no loader, and a message is one template
NOT_ALLOWED = {
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.Import: "import",
    nodes.FromImport: "import",
}
_LOOP_ITEMS = "herald.templating.budget.loop_items"


class _Blank(ChainableUndefined):
    """A missing member field renders as empty text, and so does anything reached through it
    (``contact.attributes.city.name``), rather than failing a whole send."""


def _bounded_range(*args: Any) -> range:
    result = range(*args)
    if len(result) > MAX_SIZE:
        raise SecurityError(f"range of {len(result)} items is over the limit of {MAX_SIZE}")
    return result


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if not all(isinstance(v, int) for v in (n, min, max)) or n > 20 or max > 200:
        raise SecurityError("lipsum is limited to 20 paragraphs of at most 200 words")
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


def _finalize(value: Any) -> Any:
    """Every ``{{ … }}`` output: empty for None, counted against the render's budget."""
    return "" if value is None else budget.charge_output(value)


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, with ``~`` concatenations measured against the budget."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_length(")
        super().visit_Concat(node, frame)
        self.write(")")


class Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox under a render budget: ``*``, ``**``, ``%``, ``+`` and ``range``
    limited, amplifying filters and methods checked before they run, loops counted, every
    buffer measured before it is joined."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _CodeGenerator
    template_class = BudgetedTemplate
    herald_links: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = _bounded_range
        self.globals["lipsum"] = _bounded_lipsum
        self.concat = budget.checked_join  # type: ignore[assignment]
        self.checked_length = budget.check_length
        budget.guard_filters(self.filters)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in list(tree.find_all(nodes.For)):
            counted = nodes.Call(nodes.ImportedName(_LOOP_ITEMS), [loop.iter], [], None, None)
            counted.set_lineno(loop.iter.lineno)
            loop.iter = counted
        tree.set_environment(self)
        return tree

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(getattr(__obj, "__self__", None), TrackExtension):
            # Herald's own link tracking, compiled in by the extension (a template cannot name
            # it): nothing to sandbox or budget, and it runs for every link of every message
            kwargs.pop("_loop_vars", None)  # what Context.call would strip
            kwargs.pop("_block_vars", None)
            return __obj(*args, **kwargs)
        budget.check_call(__obj, args, kwargs)
        if isinstance(__obj, LoopContext) and args:  # a recursive loop's next level
            args = (budget.loop_items(args[0]), *args[1:])
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                size = _size(seq)
                if size is not None and isinstance(times, int) and size * times > MAX_SIZE:
                    raise SecurityError(f"a repetition longer than {MAX_SIZE} is not allowed")
        elif operator == "**":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and abs(left) > 1
                and right * abs(left).bit_length() > MAX_POWER_BITS
            ):
                raise SecurityError(f"a power larger than {MAX_POWER_BITS} bits is not allowed")
        elif operator == "%" and isinstance(left, str):
            budget.check_format(left, right if isinstance(right, tuple) else (right,))
        return budget.check_length(super().call_binop(context, operator, left, right))


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


@lru_cache(maxsize=8)
def environment(autoescape: bool, links: str | None = None) -> Sandbox:
    """The sandboxed environment; HTML templates autoescape, plain-text ones do not. ``links``
    says which links parsing wraps for tracking: ``"html"`` (hrefs), ``"text"`` (web addresses)
    or None."""
    env = Sandbox(
        autoescape=autoescape,
        undefined=_Blank,
        finalize=_finalize,
        extensions=[TrackExtension],
    )
    env.herald_links = links
    env.filters["default_if_blank"] = lambda value, fallback="": value or fallback
    env.filters["countdown"] = countdown_filter
    return env


def compile_template(
    field: str, source: str, *, html: bool = False, links: str | None = None
) -> Any:
    """Compile one template; a syntax error becomes a :class:`TemplateProblem` naming the field
    and line. ``links`` (``"html"``, ``"text"``) turns on link tracking for that kind of body."""
    env = environment(html, links)
    try:
        tree = env.parse(source)
        for node_type, word in NOT_ALLOWED.items():
            found = tree.find(node_type)
            if found is not None:
                raise TemplateProblem(
                    field, f"{word} is not allowed: a message is one template", found.lineno
                )
        _check_constants(field, tree)
        return env.from_string(tree)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(field, exc.message or "syntax error", exc.lineno) from exc
    except TemplateError as exc:
        raise TemplateProblem(field, str(exc)) from exc


def _check_constants(field: str, tree: nodes.Template) -> None:
    """Arithmetic on literals that can never work, such as ``1/0``."""
    for node in tree.find_all(nodes.BinExpr):
        try:
            node.as_const()
        except Impossible as exc:
            if isinstance(exc.__cause__, ArithmeticError):
                raise TemplateProblem(
                    field, f"{type(exc.__cause__).__name__}: {exc.__cause__}", node.lineno
                ) from None
        except ArithmeticError as exc:
            raise TemplateProblem(field, f"{type(exc).__name__}: {exc}", node.lineno) from None


def member_view(context: Mapping[str, Any]) -> Mapping[str, Any]:
    """The context with the contact's empty fields left out, so that they are undefined: they
    render empty, and ``default`` gives them a value."""
    contact = context.get("contact")
    if isinstance(contact, Mapping) and None in contact.values():
        contact = {k: v for k, v in contact.items() if v is not None}
        return {**context, "contact": contact}
    return context


def render(template: Any, context: Mapping[str, Any], links: LinkTracker | None = None) -> str:
    """Render a compiled template with a member's context; ``links`` binds link tracking to
    one delivery (without it, tracked links render as written)."""
    with tracking(links):
        return template.render(member_view(context))


def strict_environment() -> ImmutableSandboxedEnvironment:
    """An environment that fails on missing values (previews that must show the gap)."""
    env = Sandbox(autoescape=True, undefined=StrictUndefined, extensions=[TrackExtension])
    env.filters["countdown"] = countdown_filter
    return env
