"""One member in the admin (``/admin/members/<id>/``): consent per channel with source and time,
attributes, tier and points history, events as a timeline and every message with its outcome."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, url_for
from flask_admin import BaseView, expose
from markupsafe import Markup, escape
from sqlalchemy import select

from herald.audiences import history, orders
from herald.audiences.models import Contact
from herald.audiences.rfm import GROUP_LABELS
from herald.campaigns import results
from herald.campaigns.coupons import Coupon
from herald.web import deps
from herald.web.admin.auth import Protected


def member_link(view: Any, context: Any, model: Contact, name: str) -> Markup:
    """A contact list cell that opens the member's page."""
    text = getattr(model, name) or ("#" + str(model.id) if name == "id" else "")
    url = url_for("members.member_view", contact_id=model.id)
    return Markup(f'<a href="{escape(url)}">{escape(text)}</a>')


class MemberView(Protected, BaseView):
    """Reached from the contacts list; not a menu entry of its own."""

    def is_visible(self) -> bool:
        return False

    @expose("/")
    def index(self) -> Any:
        return redirect(url_for("contacts.index_view"))

    @expose("/<int:contact_id>/")
    def member_view(self, contact_id: int) -> Any:
        """Everything Herald knows and did about one member."""
        session = deps.session()
        contact = session.get(Contact, contact_id)
        if contact is None or contact.erased_at is not None:
            abort(404, description=f"there is no member #{contact_id}")
        events = history.timeline(session, contact.id)
        return self.render(
            "admin/herald/member.html",
            contact=contact,
            consents=history.consents(session, contact.id),
            events=[(event, history.describe(event)) for event in events],
            loyalty=history.loyalty(events),
            messages=results.member_messages(session, contact.id),
            items=orders.recent_items(session, contact.id),
            group_labels=GROUP_LABELS,
            coupons=[
                (c, c.offer()["description"])
                for c in session.scalars(
                    select(Coupon)
                    .where(Coupon.contact_id == contact.id)
                    .order_by(Coupon.id.desc())
                    .limit(50)
                )
            ],
        )
