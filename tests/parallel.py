"""How the suite shares the machine when `make test` runs it on two pytest-xdist workers (`--dist loadfile`):
each worker starts its own session stack and gets whole test files, so module fixtures start once. The one
thing both workers touch is the machine's PostgreSQL: the storage tests' PostgreSQL half uses it
(`postgres_in_use`, shared) and a scale-out test restarts it (`postgres_alone`, exclusive), so a restart never
lands in the middle of the other worker's queries. The lock is a file lock in the temporary directory, which
also keeps two suites on one machine from restarting PostgreSQL under each other."""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POSTGRES_LOCK = Path(tempfile.gettempdir()) / "optbox-tests-postgres.lock"


@contextmanager
def _postgres_locked(mode: int) -> Iterator[None]:
    with open(POSTGRES_LOCK, "a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def postgres_in_use():
    """Held while a test uses the machine's PostgreSQL: a restart waits until it is done."""
    return _postgres_locked(fcntl.LOCK_SH)


def postgres_alone():
    """Held while restarting the machine's PostgreSQL: no other test is using it meanwhile."""
    return _postgres_locked(fcntl.LOCK_EX)
