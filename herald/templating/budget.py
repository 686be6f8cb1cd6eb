"""What one render may cost: rendered length, loop iterations and time, whatever produced them.

Every render (:class:`BudgetedTemplate.render`) opens a :class:`Budget` for the current thread.
The sandbox consults it: the output and every buffer a template joins (macros, call and set
blocks, ``~``) are measured before they are joined; loops count their iterations; calls check
the clock. Operations that could make a huge string from a small input (a width of fifty million
in ``center``, ``'%050000000d'``, ``'{:>50000000}'``, ``ljust``, ``indent``, ``replace`` with a
longer text) are refused *before* they allocate, so a hostile template costs a worker a refusal,
never its memory.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from jinja2.environment import Template
from jinja2.exceptions import SecurityError

# the longest text one rendered field (or any text built on the way) may have: far beyond any
# email a client shows (Gmail clips at about 100 kB), far below what hurts a worker
MAX_OUTPUT = 1_000_000
# characters all of a render's ``{{ … }}`` outputs may produce, buffers included (a macro's
# output counts again where it is output)
MAX_PRODUCED = 4 * MAX_OUTPUT
# loop iterations in one render, over all loops together
MAX_ITERATIONS = 100_000
# wall-clock seconds one render may take
MAX_SECONDS = 2.0
# the largest count, width or repetition a template may ask for (and ``range`` may make)
MAX_SIZE = 100_000

_FORMAT_NUMBERS = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_SPECS = re.compile(r"\{[^{}]*?(?::([^{}]*))?\}")
_DIGITS = re.compile(r"\d+")
_NESTED = re.compile(r"\{[^{}]*\{")


class Budget:
    """The allowance of one render: iterations used and the moment it must end."""

    __slots__ = ("deadline", "iterations", "produced")

    def __init__(self, seconds: float = MAX_SECONDS) -> None:
        self.iterations = 0
        self.produced = 0
        self.deadline = time.monotonic() + seconds

    def tick(self, count: int = 1) -> None:
        """Count loop iterations; refuse past the limit or the deadline."""
        self.iterations += count
        if self.iterations > MAX_ITERATIONS:
            raise SecurityError(
                f"the template loops more than {MAX_ITERATIONS:,} times in one message"
            )
        if not self.iterations & 0xFF:
            self.check_time()

    def check_time(self) -> None:
        """Refuse once the render has run past its time."""
        if time.monotonic() > self.deadline:
            raise SecurityError(f"the template takes longer than {MAX_SECONDS:g} s to render")


_current: ContextVar[Budget | None] = ContextVar("herald_render_budget", default=None)


def current() -> Budget:
    """The budget of the render in progress (a fresh one outside any render)."""
    budget = _current.get()
    return budget if budget is not None else Budget()


def charge_output(value: Any) -> Any:
    """Count what one ``{{ … }}`` outputs, before it waits in a buffer: a loop filling a
    ``{% set %}`` block is stopped while it fills it, not once it is joined."""
    if isinstance(value, str):
        budget = _current.get()
        if budget is not None:
            budget.produced += len(value)
            if budget.produced > MAX_PRODUCED:
                raise SecurityError(
                    f"the template produces more than {MAX_PRODUCED:,} characters of output"
                )
    return value


def check_length(value: Any) -> Any:
    """``value`` unchanged when its length is within the output budget."""
    if isinstance(value, str | bytes | list | tuple) and len(value) > MAX_OUTPUT:
        raise SecurityError(f"the template builds a text longer than {MAX_OUTPUT:,} characters")
    return value


def checked_join(parts: Iterable[Any]) -> str:
    """``"".join(parts)``, measured first: the environment's ``concat`` for every buffer."""
    items = parts if isinstance(parts, list) else list(parts)
    if sum(map(len, items)) > MAX_OUTPUT:
        raise SecurityError(f"the template builds a text longer than {MAX_OUTPUT:,} characters")
    current().check_time()
    return "".join(items)


def loop_items(iterable: Any) -> Iterator[Any]:
    """A template loop's items, each counted against the render's iteration budget."""
    budget = current()
    for item in iterable:
        budget.tick()
        yield item


def check_size(count: Any, what: str) -> None:
    """Refuse a count, width or repetition beyond :data:`MAX_SIZE`."""
    if isinstance(count, int) and not isinstance(count, bool) and count > MAX_SIZE:
        raise SecurityError(f"{what} of {count:,} is over the limit of {MAX_SIZE:,}")


def check_format(spec: Any, args: Iterable[Any] = ()) -> None:
    """Widths and precisions in a ``%`` or ``{}`` format string (and ``*`` widths taken from the
    arguments) within :data:`MAX_SIZE`."""
    if not isinstance(spec, str):
        return
    numbers: list[str] = []
    for match in _FORMAT_NUMBERS.finditer(spec):
        numbers += [n for n in match.groups() if n]
        if "*" in match.groups():
            for arg in args:
                check_size(arg, "a format width")
    if _NESTED.search(spec):  # widths taken from the arguments: ``'{:{w}}'.format(w=...)``
        for arg in args:
            values = arg.values() if isinstance(arg, dict) else [arg]
            for value in values:
                check_size(value, "a format width")
    for match in _BRACE_SPECS.finditer(spec):
        numbers += _DIGITS.findall(match.group(1) or "")
        numbers += _DIGITS.findall(match.group(0).split(":", 1)[0])  # nested {:{width}} fields
    for number in numbers:
        if (number != "*" and len(number) > 6) or (number.isdigit() and int(number) > MAX_SIZE):
            raise SecurityError(f"a format width of {number} is over the limit of {MAX_SIZE:,}")


def estimate_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    """Refuse a ``replace`` whose result would pass the output budget, before it is built."""
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    times = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    if len(text) + times * (len(new) - len(old)) > MAX_OUTPUT:
        raise SecurityError(f"the template builds a text longer than {MAX_OUTPUT:,} characters")


def estimate_lines(text: Any, prefix: Any) -> None:
    """Refuse an ``indent`` (a prefix on every line) whose result would pass the budget."""
    width = prefix if isinstance(prefix, int) else len(prefix) if isinstance(prefix, str) else 0
    check_size(width, "an indent")
    lines = str(text).count("\n") + 1
    if len(str(text)) + lines * width > MAX_OUTPUT:
        raise SecurityError(f"the template builds a text longer than {MAX_OUTPUT:,} characters")


def estimate_join(items: Any, separator: Any = "") -> None:
    """Refuse a ``join`` whose separators alone would pass the budget."""
    count = len(items) if hasattr(items, "__len__") else 0
    if count and isinstance(separator, str) and len(separator) * (count - 1) > MAX_OUTPUT:
        raise SecurityError(f"the template builds a text longer than {MAX_OUTPUT:,} characters")


def _too_long() -> SecurityError:
    return SecurityError(f"the template builds a text longer than {MAX_OUTPUT:,} characters")


def _str_method_check(name: str, text: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Pre-checks for ``str`` methods that can amplify their input."""
    values = [*args, *kwargs.values()]
    if name in ("center", "ljust", "rjust", "zfill", "expandtabs"):
        for value in values:
            check_size(value, f"{name}()")
        tabs = values[0] if name == "expandtabs" and values else 0
        if isinstance(tabs, int) and len(text) + text.count("\t") * tabs > MAX_OUTPUT:
            raise _too_long()
    elif name == "replace":
        estimate_replace(text, *args[:3], **{k: v for k, v in kwargs.items() if k == "count"})
    elif name == "join" and args:
        estimate_join(args[0], text)
    elif name in ("format", "format_map", "__mod__"):
        check_format(text, values)


def check_call(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Pre-checks for a call a template makes: amplifying ``str`` methods, and the clock."""
    method = getattr(func, "__wrapped__", func)  # the sandbox wraps str.format
    owner = getattr(method, "__self__", None)
    if isinstance(owner, str):
        _str_method_check(getattr(method, "__name__", ""), owner, args, kwargs)
    current().check_time()


def _sizes(value: Any, *args: Any, **kwargs: Any) -> None:
    for arg in [*args, *kwargs.values()]:
        check_size(arg, "a size")


def _format(value: Any, *args: Any, **kwargs: Any) -> None:
    check_format(value, [*args, *kwargs.values()])


def _replace(value: Any, old: Any = "", new: Any = "", count: Any = None) -> None:
    estimate_replace(value, old, new, -1 if count is None else count)


def _indent(value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> None:
    estimate_lines(value, width)


def _join(value: Any, d: Any = "", *args: Any, **kwargs: Any) -> None:
    estimate_join(value, d)


def _wordwrap(
    value: Any, width: Any = 79, breaks: Any = True, wrapstring: Any = None, *a: Any, **kw: Any
) -> None:
    check_size(width, "a wrap width")
    wrap = kw.get("wrapstring", wrapstring) or "\n"
    if isinstance(wrap, str) and len(str(value)) * (len(wrap) + 1) > MAX_OUTPUT:
        raise _too_long()


def _sum(items: Any, attribute: Any = None, start: Any = 0) -> None:
    if not (isinstance(start, str | list | tuple) and isinstance(items, list | tuple)):
        return
    if sum(len(x) for x in items if isinstance(x, str | list | tuple)) > MAX_OUTPUT:
        raise _too_long()


_FILTER_CHECKS: dict[str, Callable[..., None] | None] = {
    "center": _sizes,
    "batch": _sizes,
    "slice": _sizes,
    "format": _format,
    "replace": _replace,
    "indent": _indent,
    "join": _join,
    "wordwrap": _wordwrap,
    "sum": _sum,
    # no pre-check, but what they return is measured
    "urlize": None,
    "tojson": None,
    "pprint": None,
    "xmlattr": None,
    "string": None,
    "title": None,
    "upper": None,
    "list": None,
}


def _guarded(func: Callable[..., Any], check: Callable[..., None] | None) -> Callable[..., Any]:
    """A filter wrapped with its pre-check and a length check on what it returns."""
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if check is not None:
            check(*args[skip:], **kwargs)
        return check_length(func(*args, **kwargs))

    if hasattr(func, "jinja_pass_arg"):
        guarded.jinja_pass_arg = func.jinja_pass_arg  # type: ignore[attr-defined]
    guarded.__name__ = getattr(func, "__name__", "filter")
    guarded.__doc__ = func.__doc__
    return guarded


def guard_filters(filters: dict[str, Callable[..., Any]]) -> None:
    """Wrap the built-in filters that take sizes or can amplify their input."""
    for name, check in _FILTER_CHECKS.items():
        if name in filters:
            filters[name] = _guarded(filters[name], check)


class BudgetedTemplate(Template):
    """A template whose every render runs under a fresh :class:`Budget`, its output measured as
    it is produced."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        """Render like Jinja, under a budget (nested renders share the outer one)."""
        token = _current.set(Budget()) if _current.get() is None else None
        try:
            ctx = self.new_context(dict(*args, **kwargs))
            try:
                parts: list[str] = []
                size = 0
                for chunk in self.root_render_func(ctx):
                    size += len(chunk)
                    if size > MAX_OUTPUT:
                        raise SecurityError(
                            f"the message would be longer than {MAX_OUTPUT:,} characters"
                        )
                    parts.append(chunk)
                return "".join(parts)
            except Exception:
                self.environment.handle_exception()
        finally:
            if token is not None:
                _current.reset(token)
