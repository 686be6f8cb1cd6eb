"""The journey JSON of contract section 14, checked at save: each field, and the steps as a graph
(unknown ids, steps no path reaches, cycles without a wait, a branch on a step not earlier on
every path). Errors are 422s naming the step. Pure: no database."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from herald.campaigns import coupon_specs
from herald.core import clock
from herald.core.errors import ValidationError

SHOP_EVENTS = (
    "customer.created",
    "customer.updated",
    "order.placed",
    "cart.abandoned",
    "points.changed",
    "tier.changed",
)
EMAIL_EVENTS = ("email.opened", "email.clicked")
MEMBER_EVENTS = ("referral.converted",)  # stored by Herald itself (audiences.referrals)
ENTRY_EVENTS = SHOP_EVENTS + EMAIL_EVENTS + MEMBER_EVENTS
DATE_FIELDS = ("birthday", "points_expire_at")
STEP_TYPES = ("message", "wait", "wait_for", "branch", "split")
# steps that hold a member until time passes (or an event comes): a cycle must pass one
WAITING = ("wait", "wait_for")
MESSAGE_CHANNELS = ("email", "sms")
EXIT = "exit"
FIELDS = {"name", "entry", "exit_on", "re_entry", "holdout", "steps"}
STEP_ID = re.compile(r"^[^\x00-\x1f]{1,64}$")
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MAX_STEPS = 100
MAX_MINUTES = 525_600 * 2


def invalid(field: str, message: str) -> ValidationError:
    """A 422 naming ``field``."""
    return ValidationError(f"{field}: {message}" if field else message, {field: message})


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check(payload: Any) -> dict[str, Any]:
    """Check a whole journey definition and return it cleaned (fields in a stable shape).
    Segment rules inside it (``entry.filter``, branch conditions) are checked by the caller,
    which compiles them."""
    if not isinstance(payload, Mapping):
        raise invalid("", "the body must be a JSON object")
    unknown = sorted(set(payload) - FIELDS)
    if unknown:
        raise invalid(unknown[0], "unknown field")
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise invalid("name", "must be text of 1 to 200 characters")
    holdout = payload.get("holdout", 0)
    if not _number(holdout) or not 0 <= holdout < 1:
        raise invalid("holdout", "must be a fraction from 0 up to (not including) 1")
    exit_on = payload.get("exit_on", [])
    if not isinstance(exit_on, list) or any(e not in ENTRY_EVENTS for e in exit_on):
        raise invalid("exit_on", f"must be a list of events from {', '.join(ENTRY_EVENTS)}")
    steps = check_steps(payload.get("steps"))
    return {
        "name": name.strip(),
        "entry": check_entry(payload.get("entry")),
        "exit_on": list(dict.fromkeys(exit_on)),
        "re_entry": check_re_entry(payload.get("re_entry", "never")),
        "holdout": float(holdout),
        "steps": steps,
    }


def check_entry(entry: Any) -> dict[str, Any]:
    """``{"event", "filter"}``, ``{"segment_id"}`` or ``{"date_field", "offset_days", "time"}``."""
    if not isinstance(entry, Mapping):
        raise invalid("entry", "must be an object with event, segment_id or date_field")
    if "event" in entry:
        if set(entry) - {"event", "filter"}:
            raise invalid("entry", "an event entry takes only event and filter")
        if entry["event"] not in ENTRY_EVENTS:
            raise invalid("entry.event", f"must be one of {', '.join(ENTRY_EVENTS)}")
        if entry.get("filter") is not None and not isinstance(entry["filter"], Mapping):
            raise invalid("entry.filter", "must be segment rules (an object)")
        return {"event": entry["event"], "filter": entry.get("filter")}
    if "segment_id" in entry:
        sid = entry["segment_id"]
        if set(entry) != {"segment_id"} or not isinstance(sid, int) or isinstance(sid, bool):
            raise invalid("entry.segment_id", "must be a segment id")
        if not 0 < sid < 2**31:
            raise invalid("entry.segment_id", "must be a segment id")
        return {"segment_id": sid}
    if "date_field" in entry:
        if set(entry) - {"date_field", "offset_days", "time"}:
            raise invalid("entry", "a date entry takes date_field, offset_days and time")
        if entry["date_field"] not in DATE_FIELDS:
            raise invalid("entry.date_field", f"must be one of {', '.join(DATE_FIELDS)}")
        offset = entry.get("offset_days", 0)
        if not isinstance(offset, int) or isinstance(offset, bool) or not -366 <= offset <= 366:
            raise invalid("entry.offset_days", "must be whole days from -366 to 366")
        at = entry.get("time", "00:00")
        if not isinstance(at, str) or not TIME.match(at):
            raise invalid("entry.time", "must be a time of day as HH:MM")
        return {"date_field": entry["date_field"], "offset_days": offset, "time": at}
    raise invalid("entry", "must name an event, a segment_id or a date_field")


def check_re_entry(value: Any) -> Any:
    """``never``, ``after_exit`` or ``{"after_days": N}``; the last may say ``"count_exits":
    false`` (entries that ended on an ``exit_on`` goal do not count: a trigger's cancelled
    firings)."""
    if value in ("never", "after_exit"):
        return value
    if isinstance(value, Mapping) and set(value) in ({"after_days"}, {"after_days", "count_exits"}):
        days = value["after_days"]
        counts = value.get("count_exits", True)
        if _number(days) and 0 <= days <= 36_600 and isinstance(counts, bool):
            return {"after_days": days} if counts else {"after_days": days, "count_exits": False}
    raise invalid("re_entry", 'must be "never", "after_exit" or {"after_days": N}')


def check_steps(steps: Any) -> list[dict[str, Any]]:
    """Each step's own fields, then the graph they form."""
    if not isinstance(steps, list) or not steps:
        raise invalid("steps", "must be a non-empty list of steps")
    if len(steps) > MAX_STEPS:
        raise invalid("steps", f"at most {MAX_STEPS} steps")
    seen: dict[str, dict[str, Any]] = {}
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping):
            raise invalid(f"steps[{index}]", "must be an object")
        sid = step.get("id")
        if not isinstance(sid, str) or not STEP_ID.match(sid) or sid == EXIT:
            raise invalid(f"steps[{index}].id", 'must be text of 1 to 64 characters, not "exit"')
        if sid in seen:
            raise invalid(f"steps.{sid}", f"step {sid!r}: two steps have this id")
        seen[sid] = _check_step(sid, step)
    check_graph(list(seen.values()))
    return list(seen.values())


def _check_step(sid: str, step: Mapping[str, Any]) -> dict[str, Any]:
    kind = step.get("type")
    where = f"steps.{sid}"

    def bad(field: str, message: str) -> ValidationError:
        return invalid(f"{where}.{field}", f"step {sid!r}: {field} {message}")

    if kind not in STEP_TYPES:
        raise bad("type", f"must be one of {', '.join(STEP_TYPES)}")
    out: dict[str, Any] = {"id": sid, "type": kind}
    if kind == "message":
        if step.get("channel") not in MESSAGE_CHANNELS:
            raise bad("channel", f"must be one of {', '.join(MESSAGE_CHANNELS)}")
        if not isinstance(step.get("variants"), list) or not step["variants"]:
            raise bad("variants", "must be a non-empty list")
        if step.get("coupon") is not None:
            try:
                out["coupon"] = coupon_specs.check(step["coupon"], "coupon", now=clock.now())
            except ValidationError as exc:
                field, problem = next(iter(exc.fields.items()))
                raise invalid(f"{where}.{field}", f"step {sid!r}: {field}: {problem}") from exc
        transactional = step.get("transactional", False)
        if not isinstance(transactional, bool):
            raise bad("transactional", "must be true or false")
        out |= {"channel": step["channel"], "variants": step["variants"]}
        out |= {"transactional": transactional, "next": _target(step, "next", bad)}
    elif kind == "wait":
        if ("minutes" in step) == ("until_time" in step):
            raise bad("minutes", "give either minutes or until_time")
        if "minutes" in step:
            minutes = step["minutes"]
            if not _number(minutes) or not 0 < minutes <= MAX_MINUTES:
                raise bad("minutes", f"must be a number of minutes from 0 to {MAX_MINUTES}")
            out["minutes"] = minutes
        else:
            if not isinstance(step["until_time"], str) or not TIME.match(step["until_time"]):
                raise bad("until_time", "must be a time of day as HH:MM")
            out["until_time"] = step["until_time"]
        out["next"] = _target(step, "next", bad)
    elif kind == "wait_for":
        if step.get("event") not in ENTRY_EVENTS:
            raise bad("event", f"must be one of {', '.join(ENTRY_EVENTS)}")
        timeout = step.get("timeout_minutes")
        if not _number(timeout) or not 0 < timeout <= MAX_MINUTES:
            raise bad("timeout_minutes", f"must be a number of minutes from 0 to {MAX_MINUTES}")
        out |= {"event": step["event"], "timeout_minutes": timeout}
        out |= {"then": _target(step, "then", bad), "else": _target(step, "else", bad)}
    elif kind == "branch":
        condition = step.get("condition")
        if not isinstance(condition, Mapping) or not condition:
            raise bad("condition", "must be segment rules or an engagement condition")
        if "step" in condition:
            if set(condition) != {"event", "step"} or condition["event"] not in EMAIL_EVENTS:
                raise bad("condition", f'must be {{"event": {" | ".join(EMAIL_EVENTS)}, "step"}}')
            if not isinstance(condition["step"], str):
                raise bad("condition", "step must be a step id")
        out |= {"condition": dict(condition)}
        out |= {"then": _target(step, "then", bad), "else": _target(step, "else", bad)}
    else:
        paths = step.get("paths")
        if not isinstance(paths, list) or not 2 <= len(paths) <= 10:
            raise bad("paths", "must be a list of 2 to 10 {weight, next}")
        clean = []
        for i, path in enumerate(paths):
            if not isinstance(path, Mapping) or not _number(path.get("weight")):
                raise bad(f"paths[{i}]", "must be {weight, next} with a number weight")
            if not 0 < path["weight"] <= 1000:
                raise bad(f"paths[{i}].weight", "must be above 0 and at most 1000")
            clean.append({"weight": path["weight"], "next": _target(path, "next", bad)})
        out["paths"] = clean
    return out


def _target(step: Mapping[str, Any], field: str, bad: Any) -> str:
    target = step.get(field)
    if not isinstance(target, str) or not target:
        raise bad(field, 'must name a step or "exit"')
    return target


def targets(step: Mapping[str, Any]) -> list[str]:
    """Where a step can send a member next (``exit`` included)."""
    if step["type"] in ("wait_for", "branch"):
        return [step["then"], step["else"]]
    if step["type"] == "split":
        return [p["next"] for p in step["paths"]]
    return [step["next"]]


def check_graph(steps: list[dict[str, Any]]) -> None:
    """Unknown ids, steps no path reaches, cycles without a wait, and a branch on a step that
    is not a message earlier on every path to it: each a 422 naming the step."""
    by_id = {s["id"]: s for s in steps}
    for step in steps:
        for target in targets(step):
            if target != EXIT and target not in by_id:
                raise invalid(
                    f"steps.{step['id']}", f"step {step['id']!r}: leads to unknown step {target!r}"
                )
    start = steps[0]["id"]
    reached = _reach(by_id, start)
    for step in steps:
        if step["id"] not in reached:
            raise invalid(f"steps.{step['id']}", f"step {step['id']!r}: no path reaches it")
    _no_instant_cycle(by_id)
    for step in steps:
        condition = step.get("condition") or {}
        if step["type"] == "branch" and "step" in condition:
            ref = condition["step"]
            if by_id.get(ref, {}).get("type") != "message" or ref == step["id"]:
                raise invalid(
                    f"steps.{step['id']}",
                    f"step {step['id']!r}: branches on {ref!r}, which is not a message step",
                )
            if step["id"] in _reach(by_id, start, without=ref):
                raise invalid(
                    f"steps.{step['id']}",
                    f"step {step['id']!r}: branches on {ref!r}, which is not earlier on every "
                    "path to it",
                )


def _reach(by_id: dict[str, dict[str, Any]], start: str, without: str | None = None) -> set[str]:
    if start == without:
        return set()
    seen, todo = {start}, [start]
    while todo:
        for target in targets(by_id[todo.pop()]):
            if target != EXIT and target != without and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _no_instant_cycle(by_id: dict[str, dict[str, Any]]) -> None:
    """A cycle through no waiting step would loop a member forever within one tick."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(sid: str) -> None:
        state[sid] = 1
        if by_id[sid]["type"] not in WAITING:
            for target in targets(by_id[sid]):
                if target == EXIT or by_id[target]["type"] in WAITING:
                    continue
                if state.get(target) == 1:
                    raise invalid(f"steps.{target}", f"step {target!r}: a cycle without a wait")
                if target not in state:
                    visit(target)
        state[sid] = 2

    for sid in by_id:
        if sid not in state:
            visit(sid)
