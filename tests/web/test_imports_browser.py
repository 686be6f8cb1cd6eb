"""Importing members in a real Chromium: a marketer picks a CSV on the Imports page, a real
Celery worker imports it while the job page follows its progress, the page says what was created
and rejected, and the rejected rows download with their line and reason."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from herald.audiences.models import Contact
from tests.conftest import REDIS_URL
from tests.web.screenshots import CHROMIUM, wait_js
from tests.web.test_builder_browser import backend, marketer  # noqa: F401  (fixtures)
from tests.web.test_builder_browser import shop as shop

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing (apt-get install -y chromium; no browser downloads)",
    ),
]

CSV = (
    "\ufeffexternal_id,email,first_name,tier,consent.email,attributes.city\r\n"
    "i1,lei@example.com,李雷,gold,yes,杭州\r\n"
    "i2,not-an-email,Han,silver,yes,上海\r\n"
    "i3,mei@example.com,韩梅梅,platinum,no,北京\r\n"
    "i4,wu@example.com,Wu,diamond,yes,\r\n"
)


def test_a_marketer_imports_a_csv_and_downloads_its_rejected_rows(
    app, db, settings, shop, tmp_path: Path
):
    from celery.contrib.testing.worker import start_worker

    from herald.workers import context
    from herald.workers.celery_app import celery

    upload = tmp_path / "members.csv"
    upload.write_text(CSV, encoding="utf-8")
    context.reset(settings)
    queue = f"herald-import-browser-{os.getpid()}-{time.time_ns()}"
    old = (celery.conf.broker_url, celery.conf.task_default_queue)
    celery.conf.update(broker_url=REDIS_URL, task_default_queue=queue)
    try:
        with (
            start_worker(celery, pool="solo", perform_ping_check=False, queues=[queue]),
            marketer(app) as (page, base),
        ):
            page.goto(f"{base}/admin/imports/")
            page.set_input_files("input[name=file]", str(upload))
            page.select_option("#encoding", "utf-8")
            page.click("button:has-text('Import')")
            page.wait_for_selector("#job-status")
            # the page follows the worker until the job is done
            wait_js(
                page,
                "document.getElementById('job-status').textContent.trim() === 'done'",
                timeout=60_000,
            )
            assert page.inner_text("#job-created").strip() == "2"
            assert page.inner_text("#job-rejected").strip() == "2"
            assert page.inner_text("#job-bar").strip() == "100%"
            page.wait_for_selector("#job-rejects:not([hidden])")
            with page.expect_download() as download:
                page.click("#job-rejects a")
            rejects = Path(download.value.path()).read_text(encoding="utf-8-sig")
            page.goto(f"{base}/admin/imports/")
            assert "members.csv" in page.inner_text("table")
    finally:
        celery.conf.update(broker_url=old[0], task_default_queue=old[1])
        context.reset()
    lines = rejects.splitlines()
    assert lines[0].startswith("line,field,reason,external_id")
    assert lines[1].startswith("3,email,") and "not-an-email" in lines[1]
    assert lines[2].startswith("5,tier,") and "diamond" in lines[2]
    with db.session() as session:
        imported = {c.external_id: c for c in session.scalars(select(Contact)) if c.external_id}
    assert imported["i1"].first_name == "李雷" and imported["i1"].attributes == {"city": "杭州"}
    assert imported["i3"].tier == "platinum"
    assert "i2" not in imported and "i4" not in imported
