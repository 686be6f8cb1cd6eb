"""The weekly report compares with the same week a year before when Herald ran anything then,
and downloads as a PDF of the same HTML (WeasyPrint), from the API and the admin."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from herald.core import clock
from tests.channels.members import add_member, start_campaign
from tests.conftest import make_settings
from tests.helpers import drain
from tests.web.test_admin import login, users  # noqa: F401

THIS_YEAR = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)  # 2026-W47
YEAR_BEFORE = datetime(2025, 11, 18, 9, 0, tzinfo=UTC)  # 2025-W47


def at(moment: datetime) -> None:
    clock.reset()
    clock.shift(moment - datetime.now(UTC))


def _send(db, settings, name: str, when: datetime) -> int:  # type: ignore[no-untyped-def]
    at(when)
    campaign = start_campaign(
        db,
        {
            "name": name,
            "channel": "email",
            "variants": [{"name": "A", "subject": "s", "html": "<p>x</p>", "text": "x"}],
        },
    )
    drain(db, settings)
    return campaign


@pytest.fixture
def two_years(db, tmp_path, database_url, smtp_server):  # type: ignore[no-untyped-def]
    _, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    for i in range(3):
        add_member(db, email=f"a{i}@example.com", consent={"email": True})
    last_year = _send(db, settings, "Autumn sale 2025", YEAR_BEFORE)
    for i in range(2):
        add_member(db, email=f"b{i}@example.com", consent={"email": True})
    this_year = _send(db, settings, "Autumn sale 2026", THIS_YEAR)
    clock.reset()
    return last_year, this_year


def test_the_report_compares_with_the_same_week_a_year_before(client, auth, two_years):
    report = client.get("/api/v1/reports/weekly?week=2026-W47", headers=auth).json
    assert report["year_ago_week"] == "2025-W47"
    assert report["year_ago_totals"]["sent"] == 3 and report["totals"]["sent"] == 5
    assert report["totals_change_year"]["sent"] == {
        "previous": 3,
        "absolute": 2,
        "relative": 0.666667,
    }
    [campaign] = report["campaigns"]
    assert campaign["change_year"] is None  # a different campaign ran a year before
    assert report["totals_change"] is None  # and nothing the week before


def test_without_data_a_year_before_there_is_no_comparison(client, auth, two_years):
    report = client.get("/api/v1/reports/weekly?week=2025-W47", headers=auth).json
    assert report["year_ago_week"] == "2024-W47"
    assert report["year_ago_totals"] is None and report["totals_change_year"] is None


def _pdf_text(body: bytes) -> str:
    """The PDF's words, whitespace collapsed: where a table cell wraps depends on the fonts the
    machine has, not on the report."""
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    return " ".join(text.split())


@pytest.mark.parametrize(
    "path",
    ["/api/v1/reports/weekly.pdf?week=2026-W47", "/api/v1/reports/weekly?week=2026-W47&format=pdf"],
)
def test_the_report_downloads_as_a_pdf_of_the_same_report(client, auth, two_years, path):
    answer = client.get(path, headers=auth)
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert 'filename="herald-2026-W47.pdf"' in answer.headers["Content-Disposition"]
    text = _pdf_text(answer.data)
    assert "2026-W47" in text and "Autumn sale 2026" in text
    assert "Same week a year before (2025-W47)" in text


def test_an_unknown_format_is_a_422_naming_it(client, auth):
    answer = client.get("/api/v1/reports/weekly?format=docx", headers=auth)
    assert answer.status_code == 422 and set(answer.json["error"]["fields"]) == {"format"}


def test_the_pdf_needs_a_token(client):
    assert client.get("/api/v1/reports/weekly.pdf").status_code == 401


def test_the_admin_report_page_links_its_pdf(client, two_years, users):  # noqa: F811
    login(client, users["marketer"])
    page = client.get("/admin/reports/?week=2026-W47").get_data(as_text=True)
    assert 'href="/admin/reports/weekly.pdf?week=2026-W47"' in page
    answer = client.get("/admin/reports/weekly.pdf?week=2026-W47")
    assert answer.status_code == 200 and answer.data.startswith(b"%PDF")
    assert "Autumn sale 2026" in _pdf_text(answer.data)
