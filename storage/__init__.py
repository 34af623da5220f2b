"""storage — the database (SQLAlchemy 2 ORM + Alembic) and the file store.

Owns: every table (`models.py`), the engine/session (`db.py`), migrations
(`migrations/`, applied at start by `migrate()`), stored bytes (`files.py`),
the queries the API needs (`catalog.py`, `jobs.py`, `audit.py`), the group
commit of what many callers write at once (`group_commit.py`, `launches.py`) and
the catalog answers runs start from, kept between changes (`catalog_cache.py`).
Contracts: JobLog (job_id, seq) is unique and inserts are idempotent, so a
batch delivered twice stores once. Never imports `api/` or `flows/`.
"""
