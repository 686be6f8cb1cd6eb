"""The base class of every admin form: Flask-WTF's FlaskForm, so each form carries and checks
the CSRF token."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm


class AdminForm(FlaskForm):
    """FlaskForm that remembers the object it edits, as Flask-Admin's own base form does (its
    ``Unique`` validator needs ``form._obj`` to tell the edited row from a clash)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._obj = kwargs.get("obj")
        super().__init__(*args, **kwargs)
