"""The file store OPTBOX_FILE_STORE names: `local` (DATA_DIR/files) or `database` (no shared filesystem)."""

from __future__ import annotations

from optbox.settings import Settings
from storage.db_files import DatabaseFileStore
from storage.files import FileStore, LocalFileStore


async def open_file_store(settings: Settings) -> FileStore:
    """The store OPTBOX_FILE_STORE names, ready to use."""
    if settings.file_store == "database":
        return await DatabaseFileStore.open(settings.resolved_file_store_url)
    return LocalFileStore(settings.resolved_data_dir / "files")


async def close_file_store(store: FileStore) -> None:
    if close := getattr(store, "close", None):
        await close()
