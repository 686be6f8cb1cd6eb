"""Templates: Jinja2 in a sandbox, compiled once per run, checked at save time."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from herald.channels.base import TemplateProblem

TEMPLATE_NAMES = ("contact", "campaign", "coupon", "unsubscribe_url", "event")


class _Blank(Undefined):
    """A missing member field renders as empty text rather than failing a whole send."""

    def __str__(self) -> str:
        return ""


@lru_cache(maxsize=2)
def environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    """The sandboxed environment; HTML templates autoescape, plain-text ones do not."""
    env = ImmutableSandboxedEnvironment(autoescape=autoescape, undefined=_Blank)
    env.filters["default_if_blank"] = lambda value, fallback="": value or fallback
    return env


def compile_template(field: str, source: str, *, html: bool = False) -> Any:
    """Compile one template; a syntax error becomes a :class:`TemplateProblem` naming the field
    and line."""
    try:
        return environment(html).from_string(source)
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
        except Exception:
            # a trial render on an empty context may fail on data it lacks; that's not a problem
            # of the template's syntax, which is what save time checks
            pass
    return problems


def render(template: Any, context: Mapping[str, Any]) -> str:
    """Render a compiled template with a member's context."""
    return template.render(**context)


def strict_environment() -> ImmutableSandboxedEnvironment:
    """An environment that fails on missing values (previews that must show the gap)."""
    return ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
