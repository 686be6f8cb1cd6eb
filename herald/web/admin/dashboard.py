"""The admin home: contacts, campaigns by status and the latest runs with their progress."""

from __future__ import annotations

from typing import Any

from flask_admin import AdminIndexView, expose
from sqlalchemy import func, select

from herald.audiences.models import Contact, Segment
from herald.campaigns.models import Campaign, Run
from herald.campaigns.status import CAMPAIGN_STATUSES
from herald.web import deps
from herald.web.admin.auth import Protected
from herald.web.admin.progress import fraction, ledger_by_status

RECENT_RUNS = 10


class DashboardView(Protected, AdminIndexView):
    """``/admin/``"""

    @expose("/")
    def index(self) -> Any:
        session = deps.session()
        contacts = session.scalar(
            select(func.count()).select_from(Contact).where(Contact.erased_at.is_(None))
        )
        segments = session.scalar(select(func.count()).select_from(Segment))
        by_status = dict(
            session.execute(select(Campaign.status, func.count()).group_by(Campaign.status)).all()
        )
        campaigns = {name: int(by_status.get(name, 0)) for name in CAMPAIGN_STATUSES}
        runs = list(
            session.execute(
                select(Run, Campaign.name)
                .join(Campaign, Campaign.id == Run.campaign_id)
                .order_by(Run.id.desc())
                .limit(RECENT_RUNS)
            ).all()
        )
        counts = ledger_by_status(session, [run.id for run, _ in runs])
        recent = []
        for run, name in runs:
            ledger = counts.get(run.id, {})
            total = sum(ledger.values()) or run.recipients
            recent.append(
                {
                    "run": run,
                    "campaign_name": name,
                    "ledger": ledger,
                    "recipients": total,
                    "progress": fraction(ledger, total),
                }
            )
        return self.render(
            "admin/herald/dashboard.html",
            contacts=contacts,
            segments=segments,
            campaigns=campaigns,
            campaigns_total=sum(campaigns.values()),
            recent=recent,
        )
