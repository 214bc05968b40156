"""Uploaded files (OpenAI's Files API): a batch's input, kept in the store with their bytes, so
any replica can start a batch from a file another replica accepted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tiergate.batch.jobs import now_ms, scoped

if TYPE_CHECKING:
    from tiergate.store.backend import Store

__all__ = ["FileStore", "StoredFile"]

_COLUMNS = "id, tenant, key_id, purpose, filename, bytes, created_ms"


@dataclass(frozen=True, slots=True)
class StoredFile:
    id: str
    tenant: str
    key_id: str | None
    purpose: str
    filename: str
    bytes: int
    created_ms: int


def _file(row: Sequence[Any]) -> StoredFile:
    return StoredFile(str(row[0]), str(row[1]), row[2], str(row[3]), str(row[4]), int(row[5]),
                      int(row[6]))  # fmt: skip


class FileStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(
        self, file_id: str, tenant: str, key_id: str | None, purpose: str, filename: str,
        content: bytes,
    ) -> StoredFile:  # fmt: skip
        row = (file_id, tenant, key_id, purpose, filename, len(content), now_ms())
        await self._store.execute(
            f"INSERT INTO files ({_COLUMNS}, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (*row, content),
        )
        return _file(row)

    async def get(self, file_id: str, tenant: str | None) -> StoredFile | None:
        """The file, if it exists and ``tenant`` may see it (None: any tenant's)."""
        where, params = scoped("id = ?", [file_id], tenant)
        rows = await self._store.fetchall(f"SELECT {_COLUMNS} FROM files WHERE {where}", params)
        return _file(rows[0]) if rows else None

    async def content(self, file_id: str) -> bytes:
        rows = await self._store.fetchall("SELECT content FROM files WHERE id = ?", (file_id,))
        return bytes(rows[0][0]) if rows else b""

    async def page(
        self, tenant: str | None, limit: int, after: str | None
    ) -> tuple[list[StoredFile], bool]:
        """Newest first, continuing past ``after``."""
        where, params = scoped(*(("id < ?", [after]) if after else ("1 = 1", [])), tenant)
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM files WHERE {where} ORDER BY id DESC LIMIT ?",
            [*params, limit + 1],
        )
        return [_file(row) for row in rows[:limit]], len(rows) > limit

    async def delete(self, file_id: str) -> None:
        await self._store.execute("DELETE FROM files WHERE id = ?", (file_id,))

    async def purge(self, created_before_ms: int) -> None:
        await self._store.execute("DELETE FROM files WHERE created_ms < ?", (created_before_ms,))
