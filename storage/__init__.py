"""storage — the database (SQLAlchemy 2 ORM + Alembic) and the file store.

Owns: every table (`models.py`), the engine/session (`db.py`), migrations
(`migrations/`, applied at start by `migrate()`), stored bytes (`files.py`)
and the queries the API needs (`catalog.py`, `jobs.py`, `audit.py`).
Contracts: JobLog (job_id, seq) is unique and inserts are idempotent, so a
batch delivered twice stores once. Never imports `api/` or `flows/`.
"""
