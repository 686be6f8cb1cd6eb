"""Importing members from the admin: the upload is handled by a real Celery worker and the page
shows the job's progress and its rejected rows."""

from __future__ import annotations

import io
import os
import time

from herald.audiences.models import Contact
from tests.conftest import REDIS_URL
from tests.web.test_admin import csrf_token, login, users  # noqa: F401
from tests.workers.support import wait_for

CSV = (
    "\ufeffexternal_id,email,first_name,tier,consent.email,attributes.city\r\n"
    "s1,li@example.com,李雷,gold,true,杭州\r\n"
    "s2,not-an-email,Han,silver,true,上海\r\n"
    "s3,wei@example.com,韩梅梅,platinum,false,北京\r\n"
)


def test_an_uploaded_csv_is_imported_by_a_worker_with_progress(client, db, settings, users):  # noqa: F811
    from celery.contrib.testing.worker import start_worker

    from herald.workers import context
    from herald.workers.celery_app import celery

    login(client, users["marketer"])
    context.reset(settings)
    queue = f"herald-import-{os.getpid()}-{time.time_ns()}"
    old = (celery.conf.broker_url, celery.conf.task_default_queue)
    celery.conf.update(broker_url=REDIS_URL, task_default_queue=queue)
    try:
        with start_worker(celery, pool="solo", perform_ping_check=False, queues=[queue]):
            answer = client.post(
                "/admin/imports/upload",
                data={
                    "csrf_token": csrf_token(client, "/admin/imports/"),
                    "encoding": "utf-8",
                    "file": (io.BytesIO(CSV.encode()), "members.csv"),
                },
                content_type="multipart/form-data",
            )
            assert answer.status_code == 302, answer.text
            job_url = answer.location
            status = wait_for(
                lambda: (
                    (j := client.get(job_url.rstrip("/") + ".json").json)["status"]
                    in ("done", "failed")
                    and j
                ),
                60,
                what="the import job",
            )
    finally:
        celery.conf.update(broker_url=old[0], task_default_queue=old[1])
        context.reset()
    assert status["status"] == "done", status
    assert (status["created"], status["rejected"], status["percent"]) == (2, 1, 100.0)
    page = client.get(job_url).text
    assert "Download the rejected rows" in page
    rejects = client.get(job_url + "rejects.csv")
    assert rejects.status_code == 200 and "not-an-email" in rejects.get_data(as_text=True)
    with db.session() as session:
        li = session.query(Contact).filter_by(external_id="s1").one()
        assert (li.first_name, li.attributes["city"], li.consent_for("email")) == (
            "李雷",
            "杭州",
            True,
        )


def test_a_viewer_cannot_upload(client, users):  # noqa: F811
    login(client, users["viewer"])
    page = client.get("/admin/imports/")
    assert page.status_code == 200 and 'name="file"' not in page.text
    answer = client.post(
        "/admin/imports/upload",
        data={"csrf_token": csrf_token(client, "/admin/"), "file": (io.BytesIO(b"x"), "a.csv")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 403


def test_an_upload_without_csrf_is_refused(client, users):  # noqa: F811
    login(client, users["marketer"])
    answer = client.post(
        "/admin/imports/upload",
        data={"file": (io.BytesIO(CSV.encode()), "members.csv")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 400
