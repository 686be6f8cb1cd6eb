"""The marketer's workspace, part 2: results, members, triggers, lists, suppressions and the
admin's error pages, registered in one place so the admin's ``init_app`` needs one line."""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin

from herald.web.admin import errors, outcomes
from herald.web.admin.coupons import CouponView, TierBenefitView
from herald.web.admin.lists import ListView, SuppressionView
from herald.web.admin.members import MemberView
from herald.web.admin.results import ResultsView
from herald.web.admin.triggers import TriggerView

# the menu's drop-downs
AUDIENCE = "Audience"
LOYALTY = "Loyalty"


def add_workspace_views(app: Flask, admin: Admin) -> None:
    """Add the views after Promotions in the menu (Triggers; Lists and Suppressions under
    Audience; Coupons and Tier benefits under Loyalty; results and member pages are reached from
    campaigns and contacts)."""
    admin.add_view(TriggerView(name="Triggers", endpoint="triggers", url="triggers"))
    admin.add_view(ListView(name="Lists", endpoint="lists", url="lists", category=AUDIENCE))
    admin.add_view(
        SuppressionView(
            name="Suppressions", endpoint="suppressions", url="suppressions", category=AUDIENCE
        )
    )
    admin.add_view(ResultsView(name="Results", endpoint="results", url="results"))
    admin.add_view(CouponView(name="Coupons", endpoint="coupons", url="coupons", category=LOYALTY))
    admin.add_view(
        TierBenefitView(
            name="Tier benefits", endpoint="tier_benefits", url="tier-benefits", category=LOYALTY
        )
    )
    admin.add_view(MemberView(name="Member", endpoint="members", url="members"))
    outcomes.init_app(app)
    errors.init_app(app)
