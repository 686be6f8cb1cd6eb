"""Templates: Jinja2 in a sandbox, compiled once per run, checked at save time."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.nodes import Impossible
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATE_NAMES = ("contact", "campaign", "coupon", "unsubscribe_url", "event")


class TemplateProblem(ValueError):
    """A variant's template does not compile; names the field and the line."""

    def __init__(self, field: str, message: str, line: int | None = None) -> None:
        where = f" (line {line})" if line else ""
        super().__init__(f"{field}{where}: {message}")
        self.field = field
        self.line = line
        self.detail = message


class _Blank(Undefined):
    """A missing member field renders as empty text rather than failing a whole send."""

    def __str__(self) -> str:
        return ""


# the longest string or list a template may build with ``*``, the largest ``range`` it may
# make, and the largest number (in bits) ``**`` may make: beyond them a template eats memory
MAX_SIZE = 100_000
MAX_POWER_BITS = 4_096
# what a template may not do: there is no loader, and a message is one template
NOT_ALLOWED = {
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.Import: "import",
    nodes.FromImport: "import",
}


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def _bounded_range(*args: Any) -> range:
    result = range(*args)
    if len(result) > MAX_SIZE:
        raise SecurityError(f"range of {len(result)} items is over the limit of {MAX_SIZE}")
    return result


class Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with ``*``, ``**`` and ``range`` limited in size."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = _bounded_range

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                size = _size(seq)
                if size is not None and isinstance(times, int) and size * times > MAX_SIZE:
                    raise SecurityError(f"a repetition longer than {MAX_SIZE} is not allowed")
        elif (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and abs(left) > 1
            and right * abs(left).bit_length() > MAX_POWER_BITS
        ):
            raise SecurityError(f"a power larger than {MAX_POWER_BITS} bits is not allowed")
        return super().call_binop(context, operator, left, right)


@lru_cache(maxsize=2)
def environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    """The sandboxed environment; HTML templates autoescape, plain-text ones do not."""
    env = Sandbox(autoescape=autoescape, undefined=_Blank)
    env.filters["default_if_blank"] = lambda value, fallback="": value or fallback
    return env


def compile_template(field: str, source: str, *, html: bool = False) -> Any:
    """Compile one template; a syntax error becomes a :class:`TemplateProblem` naming the field
    and line."""
    env = environment(html)
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


def check_templates(content: Mapping[str, Any], fields: Mapping[str, bool]) -> dict[str, str]:
    """Compile each present template field (name → is HTML) and a trial render with an empty
    context; return ``{field: problem}``."""
    problems: dict[str, str] = {}
    for name, is_html in fields.items():
        source = content.get(name)
        if source is None:
            continue
        if not isinstance(source, str):
            problems[name] = "must be text"
            continue
        try:
            template = compile_template(name, source, html=is_html)
            template.render(contact={}, campaign={}, coupon={}, unsubscribe_url="", event={})
        except TemplateProblem as exc:
            problems[name] = str(exc)
        except SecurityError as exc:
            problems[name] = f"{name}: not allowed in a template: {exc}"
        except UndefinedError:
            pass  # data a member has and the empty trial context lacks
        except TemplateError as exc:
            problems[name] = f"{name}: {exc.message or type(exc).__name__}"
        except Exception:
            # a trial render on an empty context may fail on data it lacks; that's not a problem
            # of the template's syntax, which is what save time checks
            pass
    return problems


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


def render(template: Any, context: Mapping[str, Any]) -> str:
    """Render a compiled template with a member's context."""
    return template.render(**context)


def strict_environment() -> ImmutableSandboxedEnvironment:
    """An environment that fails on missing values (previews that must show the gap)."""
    return Sandbox(autoescape=True, undefined=StrictUndefined)
