"""The A/B split written by SQL (campaigns/ab_plan.py) is exactly the pure rule of
abtest/assign.py: the same members in the test group, with the same variants."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from herald.abtest.assign import assign
from herald.abtest.assign import test_size as size_of_test
from herald.campaigns.models import Delivery, Variant
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign
from tests.workers.support import seed_members


@given(
    ids=st.sets(st.integers(min_value=1, max_value=10**9), max_size=300),
    campaign_id=st.integers(min_value=1, max_value=10**6),
    fraction=st.floats(min_value=0.0, max_value=1.0),
    variants=st.integers(min_value=2, max_value=8),
)
@settings(max_examples=200)
def test_the_split_is_even_and_the_size_is_the_floor(ids, campaign_id, fraction, variants):
    plan = assign(sorted(ids), campaign_id, fraction, variants)
    in_test = [v for v in plan.values() if v is not None]
    size = size_of_test(len(ids), fraction)
    assert len(in_test) == (size if size >= variants else 0)
    counts = [in_test.count(v) for v in range(variants)]
    assert max(counts, default=0) - min(counts, default=0) <= 1


def test_the_ledger_holds_the_split_the_pure_rule_gives(
    client, auth, db, tmp_path, database_url, smtp_server
):
    _, port = smtp_server
    settings_ = make_settings(tmp_path, database_url, smtp_port=str(port), batch_size="40")
    seed_members(db, 137)
    body = email_campaign()
    body["variants"] = [
        {"name": "A", "subject": "A", "html": "<p>A</p>"},
        {"name": "B", "subject": "B", "html": "<p>B</p>"},
        {"name": "C", "subject": "C", "html": "<p>C</p>"},
    ]
    body["ab_test"] = {"test_fraction": 0.3, "metric": "click_rate", "fallback": "A"}
    created = client.post("/api/v1/campaigns", json=body, headers=auth)
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    client.post(f"/api/v1/campaigns/{campaign_id}/send-now", headers=auth)
    drain(db, settings_)
    with db.session() as session:
        rows = session.execute(
            select(Delivery.contact_id, Variant.name)
            .outerjoin(Variant, Variant.id == Delivery.variant_id)
            .order_by(Delivery.contact_id)
        ).all()
    in_ledger = {contact: name for contact, name in rows}
    plan = assign(list(in_ledger), campaign_id, 0.3, 3)
    expected = {m: (None if v is None else "ABC"[v]) for m, v in plan.items()}
    assert in_ledger == expected
    assert sum(v is not None for v in expected.values()) == 41  # floor(0.3 × 137)
