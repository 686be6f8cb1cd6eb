#!/usr/bin/env bash
# Before the first release only: rewrite the initial migration from the models.
set -euo pipefail
cd "$(dirname "$0")/.."
db=$(mktemp -d)/regen.db
rm -f herald/migrations/versions/0001_initial.py
HERALD_DATABASE_URL="sqlite:///$db" .venv/bin/alembic -c alembic.ini revision --autogenerate \
  --rev-id 0001 -m initial
