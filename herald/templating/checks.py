"""Save-time checks of a template, in a marketer's words.

A template is refused at save when it does not compile, names something no message has
(``config``, ``contact.nope``), breaks the sandbox's rules or budget, or renders for no member:
it is rendered, links tracked, for a realistic member and for a member whose fields are empty,
and refused when both fail. (Failing only for the empty member is data a member lacks, which
renders empty at send time or fails that one delivery.)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError

from herald.templating import render as templates
from herald.templating.problems import TemplateProblem
from herald.templating.track_links import LinkTracker

# what a template may name: the message context, plus names other senders add (promotions,
# journeys), the editor's product-grid block (``products``: no recommendations feed it yet, so
# its loop renders nothing) and the sandbox's own helpers
KNOWN_NAMES = frozenset(
    {
        *templates.TEMPLATE_NAMES,
        "tier",
        "promotion",
        "now",
        "benefit",
        "step",
        "journey",
        "products",
    }
)
# what ``coupon`` holds (herald.campaigns.coupon_specs.template_view; a test keeps them equal)
COUPON_FIELDS = frozenset(
    {
        "code",
        "type",
        "percent_off",
        "amount_off",
        "min_spend",
        "sku",
        "multiplier",
        "valid_until",
        "description",
    }
)
# what ``tier`` holds (herald.campaigns.tier_benefits.template_view)
TIER_FIELDS = frozenset(
    {"name", "points_rate", "free_shipping_over", "birthday_gift", "member_day", "benefits"}
)
# names whose fields are fixed, with what to say about an unknown one
FIXED_FIELDS = {
    "coupon": (COUPON_FIELDS, "coupons have no field"),
    "tier": (TIER_FIELDS, "tiers have no field"),
}
# contact fields (contract section 4, 15 and 16, and what senders add)
CONTACT_FIELDS = frozenset(
    {
        "id",
        "external_id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "locale",
        "timezone",
        "tier",
        "points",
        "birthday",
        "attributes",
        "consent",
        "orders_count",
        "total_spent",
        "last_order_at",
        "points_expiring",
        "points_expire_at",
        "referral_code",
        "referred_by_id",
        "favourite_category",
        "best_hour",
        "rfm",
        "created_at",
        "updated_at",
    }
)
# the moment trial renders happen at, in the realistic member's zone
TRIAL_NOW = datetime(2026, 11, 9, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def sample_promotion(now: datetime) -> dict[str, Any]:
    """A promotion for trial renders and previews of campaigns without one: Double 11, running
    from two days before ``now`` until two days and four hours after it."""
    return {
        "id": 0,
        "name": "Double 11 (sample)",
        "kind": "holiday",
        "starts_at": now - timedelta(days=2),
        "ends_at": now + timedelta(days=2, hours=4),
        "description": "A sample promotion: this campaign belongs to none yet",
    }


# an HTML-safe stand-in for the unsubscribe link of a trial render
_TRIAL_URL = "https://herald.invalid"
REALISTIC: dict[str, Any] = {
    "contact": {
        "id": 1,
        "external_id": "C-10001",
        "email": "mei.chen@example.com",
        "phone": "+8613800000000",
        "first_name": "Mei",
        "last_name": "Chen",
        "locale": "zh-CN",
        "timezone": "Asia/Shanghai",
        "tier": "gold",
        "points": 1200,
        "birthday": "1990-05-17",
        "attributes": {},
        "consent": {"email": True, "sms": True},
        "orders_count": 7,
        "total_spent": 1234.5,
        "points_expiring": 300,
        "points_expire_at": "2026-12-31",
        "referral_code": "MEI20-26ABC",
        "favourite_category": "tea",
        "rfm": {"recency": 5, "frequency": 4, "monetary": 4, "group": "champions"},
    },
    "campaign": {"id": 1, "name": "Trial"},
    "coupon": {
        "code": "TRIAL-7Q2X",
        "type": "coupon",
        "percent_off": None,
        "amount_off": 30,
        "min_spend": 200,
        "sku": None,
        "multiplier": None,
        "valid_until": "2026-12-31T23:59:59+08:00",
        "description": "¥30 off orders over ¥200",
    },
    "tier": {
        "name": "gold",
        "points_rate": 1.5,
        "free_shipping_over": 0,
        "birthday_gift": {"type": "coupon", "percent_off": 20, "description": "20% off"},
        "member_day": {"type": "coupon", "percent_off": 15, "description": "15% off"},
        "benefits": ["An upgraded birthday gift", "A standing shopping discount"],
    },
    "unsubscribe_url": f"{_TRIAL_URL}/u/trial",
    "event": {},
    "promotion": sample_promotion(TRIAL_NOW),
    "now": TRIAL_NOW,
}
EMPTY: dict[str, Any] = {
    "contact": {
        "id": 2,
        "tier": "new",
        "points": 0,
        "orders_count": 0,
        "total_spent": 0.0,
        "attributes": {},
    },
    "campaign": {"id": 1, "name": "Trial"},
    "coupon": {},
    "tier": {"name": "new", "benefits": []},
    "unsubscribe_url": f"{_TRIAL_URL}/u/trial",
    "event": {},
    "promotion": {},
    "now": TRIAL_NOW.astimezone(ZoneInfo("UTC")),
}


def check_template(field: str, source: str, *, html: bool) -> str | None:
    """The problem with one template field, in a marketer's words, or None."""
    try:
        template = templates.compile_template(field, source, html=html, links=_links(html))
        tree = templates.environment(html, _links(html)).parse(source)
        _check_names(field, tree)
    except TemplateProblem as exc:
        return str(exc)
    failures: list[str] = []
    for context in (REALISTIC, EMPTY):
        tracker = LinkTracker(_TRIAL_URL, "trial", 1, context["unsubscribe_url"])
        try:
            templates.render(template, context, links=tracker)
        except SecurityError as exc:
            return f"{field}: not allowed in a template: {exc}"
        except TemplateError as exc:
            failures.append(f"{field}{_line(exc)}: {exc.message or type(exc).__name__}")
        except Exception as exc:
            failures.append(f"{field}{_line(exc)}: {type(exc).__name__}: {exc}")
    if len(failures) == 2:
        return f"{failures[0]} (the template renders for no member)"
    return None


def _links(html: bool) -> str | None:
    return "html" if html else None


def _line(exc: BaseException) -> str:
    """`` (line N)`` from the template frame of a render error's traceback."""
    if isinstance(exc, TemplateSyntaxError) and exc.lineno:
        return f" (line {exc.lineno})"
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line})" if line else ""


def _check_names(field: str, tree: nodes.Template) -> None:
    """Names no message has, and contact fields no member has."""
    env = tree.environment
    unknown = sorted(meta.find_undeclared_variables(tree) - KNOWN_NAMES - set(env.globals))
    if unknown:
        line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == unknown[0]), None)
        raise TemplateProblem(
            field,
            f"templates have no '{unknown[0]}'; they see contact, campaign, coupon, tier, event, "
            "promotion, now and unsubscribe_url",
            line,
        )
    for node in tree.find_all(nodes.Getattr):
        if node.attr.startswith("_"):
            raise TemplateProblem(
                field, f"not allowed in a template: '.{node.attr}' reaches into Python", node.lineno
            )
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if isinstance(target, nodes.Name) and target.name in FIXED_FIELDS:
            _check_fixed(field, node, target.name)
            continue
        if not (isinstance(target, nodes.Name) and target.name == "contact"):
            continue
        if isinstance(node, nodes.Getattr):
            name: Any = node.attr
        elif isinstance(node.arg, nodes.Const):
            name = node.arg.value
        else:
            continue
        if isinstance(name, str) and name not in CONTACT_FIELDS:
            raise TemplateProblem(
                field,
                f"members have no field '{name}' (member data of your own goes under "
                f"contact.attributes.{name})",
                node.lineno,
            )


def _check_fixed(field: str, node: nodes.Getattr | nodes.Getitem, name: str) -> None:
    """``coupon.nope`` / ``tier.nope``: a field no coupon or tier has."""
    if isinstance(node, nodes.Getattr):
        attr: Any = node.attr
    elif isinstance(node.arg, nodes.Const):
        attr = node.arg.value
    else:
        return
    known, words = FIXED_FIELDS[name]
    if isinstance(attr, str) and attr not in known and attr not in _MAPPING_METHODS:
        raise TemplateProblem(
            field, f"{words} '{attr}' (they have {', '.join(sorted(known))})", node.lineno
        )


# ``{% if coupon.get('code') %}``, ``{% for k, v in coupon.items() %}`` stay allowed
_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})


def check_templates(content: Mapping[str, Any], fields: Mapping[str, bool]) -> dict[str, str]:
    """Compile each present template field (name → is HTML), check the names it uses and render
    it for trial members; return ``{field: problem}``."""
    problems: dict[str, str] = {}
    for name, is_html in fields.items():
        source = content.get(name)
        if source is None:
            continue
        if not isinstance(source, str):
            problems[name] = "must be text"
            continue
        problem = check_template(name, source, html=is_html)
        if problem:
            problems[name] = problem
    return problems
