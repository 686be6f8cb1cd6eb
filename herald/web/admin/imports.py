"""CSV imports from the admin: upload a file, a worker imports it, the page shows progress."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from flask import abort, flash, jsonify, redirect, request, send_file, url_for
from flask_admin import BaseView, expose
from sqlalchemy import select

from herald.audiences import importing
from herald.audiences.importing import ImportJob
from herald.web import deps
from herald.web.admin.auth import Protected, can_write

ENCODINGS = ("utf-8", "gbk", "gb18030", "big5", "utf-16", "latin-1")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def upload_folder() -> Path:
    folder = Path(deps.settings().instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class ImportView(Protected, BaseView):
    """``/admin/imports/``: recent imports, an upload form, one import's live progress."""

    write_views = frozenset({"upload"})

    @expose("/")
    def index(self) -> Any:
        jobs = deps.session().scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(50))
        return self.render(
            "admin/herald/imports.html",
            jobs=[importing.to_dict(job) for job in jobs],
            encodings=ENCODINGS,
            writable=can_write(),
        )

    @expose("/upload", methods=("POST",))
    def upload(self) -> Any:
        file = request.files.get("file")
        encoding = (request.form.get("encoding") or "utf-8").strip()
        if file is None or not file.filename:
            flash("Choose a CSV file to import.", "danger")
            return redirect(url_for(".index"))
        name = _SAFE.sub("_", Path(file.filename).name)[-120:] or "upload.csv"
        stored = upload_folder() / f"{secrets.token_hex(8)}-{name}"
        file.save(stored)
        session = deps.session()
        try:
            job = importing.create_job(session, file.filename, stored, encoding)
        except importing.ImportFailed as exc:
            session.rollback()
            stored.unlink(missing_ok=True)
            flash(f"The file was not imported: {exc}", "danger")
            return redirect(url_for(".index"))
        session.commit()
        from herald.workers.tasks import import_contacts

        try:
            import_contacts.delay(job.id)  # after the commit: the worker finds the job row
        except Exception as exc:
            flash(f"The import is queued but no worker could be told yet: {exc}", "warning")
        return redirect(url_for(".job_view", job_id=job.id))

    @expose("/<int:job_id>/")
    def job_view(self, job_id: int) -> Any:
        return self.render("admin/herald/import_job.html", job=importing.to_dict(self._job(job_id)))

    @expose("/<int:job_id>.json")
    def job_json(self, job_id: int) -> Any:
        return jsonify(importing.to_dict(self._job(job_id)))

    @expose("/<int:job_id>/rejects.csv")
    def rejects(self, job_id: int) -> Any:
        job = self._job(job_id)
        path = Path(job.rejects_path or "")
        if not job.rejects_path or not path.is_file():
            abort(404)
        return send_file(
            path,
            mimetype="text/csv",
            as_attachment=True,
            download_name=f"import-{job.id}-rejects.csv",
        )

    def _job(self, job_id: int) -> ImportJob:
        job = deps.session().get(ImportJob, job_id)
        if job is None:
            abort(404)
        return job
