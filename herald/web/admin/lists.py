"""Static lists and the suppression list in the admin: ``/admin/lists/`` and
``/admin/suppressions/``."""

from __future__ import annotations

import re
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from sqlalchemy import func, select

from herald.audiences import lists, suppression
from herald.audiences.models import Contact, ContactList, ListMember, Suppression
from herald.core.errors import HeraldError
from herald.web import deps
from herald.web.admin.auth import Protected, require_write

PAGE = 50
_SPLIT = re.compile(r"[\s,;]+")


def _page() -> int:
    return max(0, request.args.get("page", 0, type=int))


class ListView(Protected, BaseView):
    """Static lists: create one, add members by email or id, see who is on it."""

    @expose("/", methods=("GET", "POST"))
    def index(self) -> Any:
        """Every list with its size; a writer creates one here."""
        session = deps.session()
        if request.method == "POST":
            require_write()
            try:
                created = lists.create(session, request.form.get("name"))
                session.commit()
            except HeraldError as exc:
                session.rollback()
                flash(f"The list was not created: {exc.message}", "danger")
            else:
                flash(f"List {created.name!r} created.", "success")
                return redirect(url_for(".list_view", list_id=created.id))
        size = (
            select(func.count())
            .select_from(ListMember)
            .join(Contact, Contact.id == ListMember.contact_id)
            .where(ListMember.list_id == ContactList.id, Contact.erased_at.is_(None))
            .scalar_subquery()
        )
        rows = session.execute(select(ContactList, size).order_by(ContactList.id.desc())).all()
        return self.render("admin/herald/lists.html", rows=rows)

    @expose("/<int:list_id>/", methods=("GET", "POST"))
    def list_view(self, list_id: int) -> Any:
        """One list's members, paged; a writer adds members by email or id."""
        if request.method == "POST":
            require_write()  # a read-only role learns nothing, not even whether the list exists
        session = deps.session()
        found = session.get(ContactList, list_id)
        if found is None:
            abort(404, description=f"there is no list #{list_id}")
        if request.method == "POST":
            words = [w for w in _SPLIT.split(request.form.get("members") or "") if w]
            ids = [int(w) for w in words if w.isdigit()]
            emails = [w for w in words if not w.isdigit()]
            try:
                answer = lists.add(session, list_id, ids=ids, emails=emails)
                session.commit()
            except HeraldError as exc:
                session.rollback()
                flash(exc.message, "danger")
            else:
                message = f"Added {answer['added']}; {answer['already']} were on the list already."
                if answer["not_found"]:
                    shown = ", ".join(map(str, answer["not_found"][:10]))
                    message += f" Not found: {shown}."
                flash(message, "warning" if answer["not_found"] else "success")
            return redirect(url_for(".list_view", list_id=list_id))
        page = _page()
        members = session.scalars(
            select(Contact)
            .join(ListMember, ListMember.contact_id == Contact.id)
            .where(ListMember.list_id == list_id, Contact.erased_at.is_(None))
            .order_by(Contact.id)
            .offset(page * PAGE)
            .limit(PAGE)
        ).all()
        total = lists.size(session, list_id)
        return self.render(
            "admin/herald/list_detail.html",
            found=found,
            members=members,
            total=total,
            page=page,
            pages=max(1, -(-total // PAGE)),
        )


class SuppressionView(Protected, BaseView):
    """The suppression list: search it, add an address by hand, lift a suppression."""

    @expose("/")
    def index(self) -> Any:
        """Suppressed addresses, newest first, filterable by channel, reason and address."""
        session = deps.session()
        where = []
        channel = request.args.get("channel") or ""
        reason = request.args.get("reason") or ""
        query = (request.args.get("q") or "").strip().lower()
        if channel:
            where.append(Suppression.channel == channel)
        if reason:
            where.append(Suppression.reason == reason)
        if query:
            where.append(Suppression.address.contains(query, autoescape=True))
        page = _page()
        rows = session.scalars(
            select(Suppression)
            .where(*where)
            .order_by(Suppression.id.desc())
            .offset(page * PAGE)
            .limit(PAGE)
        ).all()
        total = int(
            session.scalar(select(func.count()).select_from(Suppression).where(*where)) or 0
        )
        return self.render(
            "admin/herald/suppressions.html",
            rows=rows,
            total=total,
            page=page,
            pages=max(1, -(-total // PAGE)),
            channel=channel,
            reason=reason,
            q=query,
            reasons=suppression.REASONS,
        )

    @expose("/add", methods=("POST",))
    def add_view(self) -> Any:
        """Suppress an address by hand (reason ``manual``); members with it lose consent."""
        require_write()
        session = deps.session()
        channel = request.form.get("channel") or ""
        address = request.form.get("address") or ""
        try:
            row = suppression.suppress(
                session, channel, address, "manual", request.form.get("detail") or "admin"
            )
            session.commit()
        except HeraldError as exc:
            session.rollback()
            flash(f"Not suppressed: {exc.message}", "danger")
        else:
            flash(f"{row.address} is suppressed on {row.channel}.", "success")
        return redirect(url_for(".index"))

    @expose("/<int:row_id>/delete", methods=("POST",))
    def delete_view(self, row_id: int) -> Any:
        """Lift one suppression; consent is not granted back."""
        require_write()
        session = deps.session()
        row = session.get(Suppression, row_id)
        if row is None:
            abort(404, description=f"there is no suppression #{row_id}")
        suppression.unsuppress(session, row.channel, row.address)
        session.commit()
        flash(f"{row.address} may receive {row.channel} again once they consent.", "success")
        return redirect(url_for(".index"))
