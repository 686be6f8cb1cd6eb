"""Findings "a viewer can unsubscribe members through the Outbox's links" and "import job JSON
shows the server's absolute path"."""

from __future__ import annotations

import re
from email.message import EmailMessage

from herald.audiences.models import ImportJob
from herald.templating.tracking import click_url, open_url, unsubscribe_url
from tests.web.test_admin import login, users  # noqa: F401  (fixture)

PUBLIC, SECRET = "http://herald.test", "test-secret-key"  # as make_settings sets them


def _write_outbox_message(settings) -> str:  # type: ignore[no-untyped-def]
    unsubscribe = unsubscribe_url(PUBLIC, SECRET, 7)
    pixel = open_url(PUBLIC, SECRET, 7)
    click = click_url(PUBLIC, SECRET, 7, "https://shop.example/sale?utm=mail")
    message = EmailMessage()
    message["Subject"] = "Double 11"
    message["From"] = "shop@example.com"
    message["To"] = "ann@example.com"
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message.set_content(f"Sale: {click}\nUnsubscribe: {unsubscribe}\n")
    message.add_alternative(
        f'<p><a href="{click}">Sale</a> <a href="{unsubscribe}">Unsubscribe</a>'
        f'<img src="{pixel}" alt=""></p>',
        subtype="html",
    )
    folder = settings.instance_path / "outbox"
    folder.mkdir(parents=True, exist_ok=True)
    name = "1700000000-1.eml"
    (folder / name).write_bytes(bytes(message))
    return name


def test_outbox_links_a_viewer_sees_no_live_tracking_or_unsubscribe_link(
    client,
    settings,
    users,  # noqa: F811
):
    name = _write_outbox_message(settings)
    login(client, users["viewer"])
    page = client.get(f"/admin/outbox/{name}")
    assert page.status_code == 200
    text = page.text
    assert not re.search(r"herald\.test/(u|t/c|t/o)/", text), "a live tracking link is shown"
    assert "https://shop.example/sale?utm=mail" in text  # where the link goes is still shown
    assert "unsubscribe-link-hidden-in-the-admin" in text
    # following what the page shows records nothing: there is no token left to follow
    assert client.post("/u/unsubscribe-link-hidden-in-the-admin").status_code == 404


def test_import_job_json_does_not_show_the_servers_path(client, db, users, tmp_path):  # noqa: F811
    with db.session() as session:
        job = ImportJob(
            filename="members.csv",
            stored_path=str(tmp_path / "uploads" / "members.csv"),
            status="done",
            rejects_path=str(tmp_path / "uploads" / "members.csv.rejects.csv"),
            rejected=1,
        )
        session.add(job)
        session.flush()
        job_id = job.id
    login(client, users["marketer"])
    answer = client.get(f"/admin/imports/{job_id}.json")
    assert answer.status_code == 200
    assert str(tmp_path) not in answer.text
    assert answer.json["has_rejects"] is True
    page = client.get(f"/admin/imports/{job_id}/")
    assert str(tmp_path) not in page.text
