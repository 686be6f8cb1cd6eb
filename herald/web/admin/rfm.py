"""RFM overview at ``/admin/rfm/``: members per named group, the recency × frequency grid, and
a segment of a group one click away (found or created, then opened in the segment editor)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, url_for
from flask_admin import BaseView, expose
from sqlalchemy import select

from herald.audiences import rfm
from herald.audiences.models import Segment
from herald.web import deps
from herald.web.admin.auth import Protected, can_write, require_write


def group_rules(group: str) -> dict[str, Any]:
    """The segment rules of one RFM group."""
    return {"all": [{"field": "rfm.group", "op": "in", "value": [group]}]}


class RfmView(Protected, BaseView):
    """Read by every role; making a group's segment needs a writing role."""

    @expose("/")
    def index(self) -> Any:
        overview = rfm.overview(deps.session())
        scored = sum(overview["groups"].values())
        peak = max(overview["grid"].values(), default=0) or 1
        return self.render(
            "admin/herald/rfm.html",
            groups=overview["groups"],
            labels=rfm.GROUP_LABELS,
            descriptions=DESCRIPTIONS,
            grid=overview["grid"],
            peak=peak,
            scored=scored,
            unscored=overview["unscored"],
            scores=rfm.SCORES,
            can_plan=can_write(),
        )

    @expose("/segment/<group>", methods=("POST",))
    def segment(self, group: str) -> Any:
        """Open the segment of ``group``, creating "RFM: <label>" when it does not exist."""
        require_write()
        if group not in rfm.GROUPS:
            abort(404, description=f"there is no RFM group {group!r}")
        session = deps.session()
        rules = group_rules(group)
        name = f"RFM: {rfm.GROUP_LABELS[group]}"
        segment = session.scalar(select(Segment).where(Segment.name == name))
        if segment is None:
            segment = Segment(name=name, rules=rules)
            session.add(segment)
            session.commit()
            flash(f"Segment “{name}” created.", "success")
        return redirect(url_for("segments.edit_view", id=segment.id))


DESCRIPTIONS = {
    "champions": "bought lately, buy often, spend the most",
    "loyal": "recent and above average in orders and spend",
    "potential": "recent buyers not yet frequent or big",
    "new": "a recent first order",
    "at_risk": "average value, gone quiet",
    "cant_lose": "were among the best, gone quiet",
    "hibernating": "low value, not seen for a while",
    "lost": "low value, longest ago",
}
