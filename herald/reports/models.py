"""A ledger of sent weekly reports: one row per ISO week, unique, so the scheduled task sends a
week's report at most once however many schedulers or retries ask for it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from herald.core import clock
from herald.core.db import Base


class ReportSent(Base):
    """One weekly report claimed for sending (``week`` like ``2026-W47``)."""

    __tablename__ = "reports_sent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[str] = mapped_column(String(8), unique=True)
    recipients: Mapped[str] = mapped_column(String(2000), default="")
    claimed_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None]
