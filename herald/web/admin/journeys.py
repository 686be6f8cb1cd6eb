"""Journeys in the admin: the list, a builder (the journey JSON beside its steps as cards with
their branches and the SVG diagram drawn from the same JSON, checked live on the server), and a
journey's page with counts on every step and arrow, per-step metrics, the holdout lift and
sample members at each step."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_admin import BaseView, expose
from markupsafe import Markup
from sqlalchemy import func, select

from herald.audiences.models import Contact
from herald.core.errors import HeraldError
from herald.journeys import diagram, examples, graph, service
from herald.journeys.models import Journey, JourneyEntry
from herald.journeys.stats import journey_stats
from herald.web import deps
from herald.web.admin.auth import Protected, can_write


def _parse(text: str) -> tuple[Any, str | None]:
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"


def _problem_step(fields: dict[str, str]) -> str | None:
    """The step a validation error names (``steps.<id>...``), for highlighting its card."""
    for field in fields:
        if field.startswith("steps."):
            rest = field[len("steps.") :]
            for step_id in sorted(_ids_in(rest), key=len, reverse=True):
                return step_id
    return None


def _ids_in(rest: str) -> list[str]:
    parts = rest.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _shown(journey: Journey | None) -> Journey:
    """A journey of the journeys pages; a trigger's journey is edited as a trigger."""
    if journey is None or journey.trigger_id is not None:
        abort(404)
    return journey


class JourneyView(Protected, BaseView):
    """``/admin/journeys/``: list, builder, a journey's page, activate and pause."""

    write_views = frozenset({"create", "edit", "activate", "pause"})

    @expose("/")
    def index(self) -> Any:
        session = deps.session()
        journeys = list(
            session.scalars(
                select(Journey)
                .where(Journey.trigger_id.is_(None))
                .order_by(Journey.id.desc())
                .limit(200)
            )
        )
        counts = dict(
            session.execute(
                select(JourneyEntry.journey_id, func.count()).group_by(JourneyEntry.journey_id)
            ).all()
        )
        return self.render(
            "admin/herald/journeys.html", journeys=journeys, counts=counts, writable=can_write()
        )

    def _builder(
        self,
        text: str,
        journey: Journey | None,
        error: str | None = None,
        fields: dict[str, str] | None = None,
    ) -> Any:
        payload, parse_error = _parse(text)
        steps: list[dict[str, Any]] = []
        drawing = None
        if parse_error is None:
            try:
                steps = graph.check(payload)["steps"]
                drawing = Markup(diagram.svg(steps))
            except HeraldError:
                raw = payload.get("steps") if isinstance(payload, dict) else None
                steps = [s for s in raw or [] if isinstance(s, dict)]
        return self.render(
            "admin/herald/journey_builder.html",
            text=text,
            journey=journey,
            error=error or parse_error,
            fields=fields or {},
            bad_step=_problem_step(fields or {}),
            steps=steps,
            diagram=drawing,
            starts=examples.choices(),
        )

    @expose("/new", methods=("GET", "POST"))
    def create(self) -> Any:
        if request.method == "GET":
            start = examples.example(request.args.get("start", "welcome"))
            return self._builder(json.dumps(start, indent=2, ensure_ascii=False), None)
        text = request.form.get("definition", "")
        payload, parse_error = _parse(text)
        if parse_error:
            return self._builder(text, None, parse_error)
        session = deps.session()
        try:
            journey = service.create(session, payload, deps.settings().timezone)
        except HeraldError as exc:
            session.rollback()
            return self._builder(text, None, exc.message, exc.fields)
        session.commit()
        flash(f"Journey {journey.name!r} saved as a draft.", "success")
        return redirect(url_for(".detail", journey_id=journey.id))

    @expose("/<int:journey_id>/edit", methods=("GET", "POST"))
    def edit(self, journey_id: int) -> Any:
        session = deps.session()
        journey = _shown(session.get(Journey, journey_id))
        if request.method == "GET":
            shown = dict(journey.definition)
            if journey.promotion_id is not None:  # the promotion it counts for, editable here
                shown["promotion_id"] = journey.promotion_id
            text = json.dumps(shown, indent=2, ensure_ascii=False)
            return self._builder(text, journey)
        text = request.form.get("definition", "")
        payload, parse_error = _parse(text)
        if parse_error:
            return self._builder(text, journey, parse_error)
        try:
            service.update(session, journey, payload, deps.settings().timezone)
        except HeraldError as exc:
            session.rollback()
            return self._builder(text, journey, exc.message, exc.fields)
        session.commit()
        flash("Saved: members keep the steps they are at.", "success")
        return redirect(url_for(".detail", journey_id=journey_id))

    @expose("/check", methods=("POST",))
    def check(self) -> Any:
        """The builder's live check: the problem (naming the step) or the diagram."""
        payload, parse_error = _parse(request.get_data(as_text=True))
        if parse_error:
            return jsonify(ok=False, error=parse_error, fields={})
        try:
            steps = service.check(deps.session(), payload)["steps"]
        except HeraldError as exc:
            return jsonify(ok=False, error=exc.message, fields=exc.fields)
        finally:
            deps.session().rollback()
        return jsonify(ok=True, svg=diagram.svg(steps))

    @expose("/<int:journey_id>/")
    def detail(self, journey_id: int) -> Any:
        session = deps.session()
        journey = _shown(session.get(Journey, journey_id))
        stats = journey_stats(session, journey)
        samples: dict[str, list[str]] = {}
        for step in journey.definition["steps"]:
            rows = session.execute(
                select(Contact.id, Contact.email)
                .join(JourneyEntry, JourneyEntry.contact_id == Contact.id)
                .where(
                    JourneyEntry.journey_id == journey.id,
                    JourneyEntry.state == "active",
                    JourneyEntry.step == step["id"],
                )
                .order_by(JourneyEntry.id)
                .limit(5)
            ).all()
            samples[step["id"]] = [email or f"contact {cid}" for cid, email in rows]
        return self.render(
            "admin/herald/journey_detail.html",
            journey=journey,
            stats=stats,
            steps=journey.definition["steps"],
            samples=samples,
            diagram=Markup(diagram.svg(journey.definition["steps"], stats["steps"])),
            writable=can_write(),
        )

    @expose("/<int:journey_id>/activate", methods=("POST",))
    def activate(self, journey_id: int) -> Any:
        return self._switch(journey_id, service.activate, "active")

    @expose("/<int:journey_id>/pause", methods=("POST",))
    def pause(self, journey_id: int) -> Any:
        return self._switch(journey_id, service.pause, "paused")

    def _switch(self, journey_id: int, action: Any, word: str) -> Any:
        session = deps.session()
        journey = _shown(session.get(Journey, journey_id))
        try:
            action(session, journey)
            session.commit()
            flash(f"The journey is {word}.", "success")
        except HeraldError as exc:
            session.rollback()
            flash(exc.message, "danger")
        return redirect(url_for(".detail", journey_id=journey_id))
