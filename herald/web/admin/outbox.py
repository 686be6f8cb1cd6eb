"""The dev SMTP sink's outbox (``instance/outbox``): what ``make run`` "sent"."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import abort, request
from flask_admin import BaseView, expose

from herald.channels.sink import page_outbox
from herald.web import deps
from herald.web.admin.auth import Protected
from herald.web.admin.inert_links import make_inert

PAGE = 50
_NAME = re.compile(r"^[0-9]+-[0-9]+\.eml$")


def outbox_folder() -> Path:
    return Path(deps.settings().instance_path) / "outbox"


class OutboxView(Protected, BaseView):
    """``/admin/outbox/``: the newest messages, and one message's text and HTML."""

    @expose("/")
    def index(self) -> Any:
        """One page of the outbox, newest first, filtered by ``?q=`` (To, From or Subject)."""
        page = max(0, request.args.get("page", 0, type=int))
        query = request.args.get("q") or ""
        found, total = page_outbox(outbox_folder(), page, PAGE, query)
        messages = [
            (m, datetime.fromtimestamp(m.received, UTC).strftime("%Y-%m-%d %H:%M:%S"))
            for m in found
        ]
        return self.render(
            "admin/herald/outbox.html",
            messages=messages,
            folder=outbox_folder(),
            q=query,
            total=total,
            page=page,
            pages=max(1, -(-total // PAGE)),
        )

    @expose("/<filename>")
    def message_view(self, filename: str) -> Any:
        # only names the sink writes, so no path can leave the folder
        if not _NAME.match(filename):
            abort(404)
        path = outbox_folder() / filename
        if not path.is_file():
            abort(404)
        with path.open("rb") as handle:
            message = email.message_from_binary_file(handle, policy=email.policy.default)
        text_part = message.get_body(("plain",))
        html_part = message.get_body(("html",))
        settings = deps.settings()

        def inert(value: str | None) -> str | None:
            if value is None:
                return None
            return make_inert(value, settings.public_url, settings.secret_key)

        return self.render(
            "admin/herald/outbox_message.html",
            name=filename,
            headers=[(k, inert(str(v))) for k, v in message.items()],
            subject=str(message.get("Subject", "")),
            text=inert(text_part.get_content() if text_part is not None else None),
            html=inert(html_part.get_content() if html_part is not None else None),
        )
