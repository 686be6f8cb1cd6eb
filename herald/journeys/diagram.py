"""A journey's steps drawn as an SVG diagram from the same JSON the API takes: steps in columns by
their distance from the start, arrows labelled with their branch (then / else / a split's
weight) and, when stats are given, the members who entered each step and took each arrow."""

from __future__ import annotations

from html import escape
from typing import Any

from herald.journeys.graph import EXIT, targets

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 170, 56, 60, 24, 16


def _layers(steps: list[dict[str, Any]]) -> dict[str, int]:
    """Column of each step: its shortest distance from the first step (exit is last)."""
    by_id = {s["id"]: s for s in steps}
    depth = {steps[0]["id"]: 0}
    todo = [steps[0]["id"]]
    while todo:
        sid = todo.pop(0)
        for target in targets(by_id[sid]):
            if target != EXIT and target not in depth:
                depth[target] = depth[sid] + 1
                todo.append(target)
    depth[EXIT] = max(depth.values(), default=0) + 1
    return depth


def _labels(step: dict[str, Any]) -> list[str]:
    if step["type"] in ("wait_for", "branch"):
        return ["then", "else"]
    if step["type"] == "split":
        return [f"{p['weight']:g}" for p in step["paths"]]
    return [""]


def _caption(step: dict[str, Any]) -> str:
    kind = step["type"]
    if kind == "message":
        return f"{step['channel']} message"
    if kind == "wait":
        return (
            f"until {step['until_time']}"
            if "until_time" in step
            else f"wait {step['minutes']:g} min"
        )
    if kind == "wait_for":
        return f"wait for {step['event']}"
    if kind == "branch":
        condition = step["condition"]
        if "step" in condition:
            return f"{condition['event'].split('.')[1]} {condition['step']}?"
        return "if rules match"
    return "split"


def svg(steps: list[dict[str, Any]], stats: dict[str, Any] | None = None) -> str:
    """The diagram as an ``<svg>`` element (text escaped; safe to embed in a page)."""
    stats = stats or {}
    depth = _layers(steps)
    columns: dict[int, list[str]] = {}
    for sid in [s["id"] for s in steps if s["id"] in depth] + [EXIT]:
        columns.setdefault(depth[sid], []).append(sid)
    place: dict[str, tuple[int, int]] = {}
    for col, ids in columns.items():
        for row, sid in enumerate(ids):
            place[sid] = (PAD + col * (BOX_W + GAP_X), PAD + row * (BOX_H + GAP_Y))
    width = PAD * 2 + (max(columns) + 1) * (BOX_W + GAP_X) - GAP_X
    height = PAD * 2 + max(len(ids) for ids in columns.values()) * (BOX_H + GAP_Y) - GAP_Y
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="journey-diagram" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="journey steps">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#6c757d"/></marker>'
        "</defs>",
    ]
    for step in steps:
        x1, y1 = place[step["id"]]
        taken = (stats.get(step["id"]) or {}).get("next", {})
        for target, label in zip(targets(step), _labels(step), strict=True):
            x2, y2 = place[target]
            sx, sy, ex, ey = x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
            if ex <= sx:  # a loop back: leave from below
                sx, sy, ex, ey = x1 + BOX_W / 2, y1 + BOX_H, x2 + BOX_W / 2, y2 + BOX_H
            count = taken.get(target) if target != EXIT else None
            text = " ".join(t for t in (label, "" if count is None else f"({count})") if t)
            parts.append(
                f'<line class="edge" data-from="{escape(step["id"])}" data-to="{escape(target)}" '
                f'x1="{sx:.0f}" y1="{sy:.0f}" x2="{ex:.0f}" y2="{ey:.0f}" stroke="#6c757d" '
                'marker-end="url(#arrow)"/>'
            )
            if text:
                parts.append(
                    f'<text class="edge-label" x="{(sx + ex) / 2:.0f}" y="{(sy + ey) / 2 - 4:.0f}" '
                    f'font-size="11" text-anchor="middle" fill="#495057">{escape(text)}</text>'
                )
    for step in [*steps, {"id": EXIT, "type": "exit"}]:
        x, y = place[step["id"]]
        sid = step["id"]
        colour = {"message": "#e7f1ff", "exit": "#f1f3f5"}.get(step["type"], "#fff8e1")
        entered = (stats.get(sid) or {}).get("entered")
        parts.append(
            f'<g class="node" data-step="{escape(sid)}"><rect x="{x}" y="{y}" width="{BOX_W}" '
            f'height="{BOX_H}" rx="8" fill="{colour}" stroke="#adb5bd"/>'
            f'<text x="{x + 10}" y="{y + 20}" font-size="13" font-weight="bold">'
            f"{escape(sid[:22])}</text>"
        )
        if step["type"] != "exit":
            caption = _caption(step)[:26]
            parts.append(
                f'<text x="{x + 10}" y="{y + 38}" font-size="11" fill="#495057">'
                f"{escape(caption)}</text>"
            )
        if entered is not None:
            parts.append(
                f'<text class="count" x="{x + BOX_W - 10}" y="{y + 20}" font-size="12" '
                f'text-anchor="end">{int(entered)}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
