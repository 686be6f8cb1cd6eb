"""The weekly report in the admin is the same report the API answers and the email carries."""

from __future__ import annotations

from datetime import timedelta

from herald.core import clock
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign
from tests.web.test_admin import login, users  # noqa: F401
from tests.workers.support import seed_members


def test_the_admin_shows_the_weekly_report_with_charts_and_csv(
    client,
    auth,
    db,
    tmp_path,
    database_url,
    smtp_server,
    users,  # noqa: F811
):
    _, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    seed_members(db, 12)
    campaign = client.post(
        "/api/v1/campaigns", json=email_campaign(name="Singles Day"), headers=auth
    ).json
    client.post(f"/api/v1/campaigns/{campaign['id']}/send-now", headers=auth)
    drain(db, settings)
    week = clock.now().isocalendar()
    week_text = f"{week.year}-W{week.week:02d}"
    api = client.get(f"/api/v1/reports/weekly?week={week_text}", headers=auth).json
    assert api["totals"]["sent"] == 12

    login(client, users["viewer"])
    page = client.get(f"/admin/reports/?week={week_text}")
    assert page.status_code == 200
    assert "Singles Day" in page.text and "data:image/png;base64," in page.text
    csv = client.get(f"/admin/reports/weekly.csv?week={week_text}")
    assert csv.status_code == 200 and "Singles Day" in csv.get_data(as_text=True)
    bad = client.get("/admin/reports/?week=2026-53")
    assert bad.status_code == 200 and "is not an ISO week like 2026-W47" in bad.text
    clock.shift(timedelta(days=7))  # by default: the week before the current one
    assert "Singles Day" in client.get("/admin/reports/").text
