"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from herald.models import Base


def test_migrations_match_the_models(db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": db.is_sqlite}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], "run `make migration` and commit the result"
