"""The dev SMTP sink's outbox (``instance/outbox``): what ``make run`` "sent"."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import abort
from flask_admin import BaseView, expose

from herald.channels.sink import list_outbox
from herald.web import deps
from herald.web.admin.auth import Protected

_NAME = re.compile(r"^[0-9]+-[0-9]+\.eml$")


def outbox_folder() -> Path:
    return Path(deps.settings().instance_path) / "outbox"


class OutboxView(Protected, BaseView):
    """``/admin/outbox/``: the newest messages, and one message's text and HTML."""

    @expose("/")
    def index(self) -> Any:
        messages = [
            (m, datetime.fromtimestamp(m.received, UTC).strftime("%Y-%m-%d %H:%M:%S"))
            for m in list_outbox(outbox_folder())
        ]
        return self.render("admin/herald/outbox.html", messages=messages, folder=outbox_folder())

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
        return self.render(
            "admin/herald/outbox_message.html",
            name=filename,
            headers=[(k, str(v)) for k, v in message.items()],
            subject=str(message.get("Subject", "")),
            text=text_part.get_content() if text_part is not None else None,
            html=_untracked(html_part.get_content()) if html_part is not None else None,
        )


def _untracked(html: str) -> str:
    from herald.campaigns.preview import untracked

    settings = deps.settings()
    return untracked(html, settings.public_url, settings.secret_key)
