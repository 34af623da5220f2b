"""storage — the database (SQLAlchemy 2 ORM + Alembic) and the file store.

Owns: every table (`models.py`), the engine/session (`db.py`), migrations
(`migrations/`, applied at start by `migrate()`), stored bytes (`files.py`),
the queries the API needs (`catalog.py`, `jobs.py`, `audit.py`) and the group
commit of rows many callers insert at once (`group_commit.py`).
Contracts: JobLog (job_id, seq) is unique and inserts are idempotent, so a
batch delivered twice stores once. Never imports `api/` or `flows/`.
"""
