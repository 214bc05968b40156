"""Uploaded files (OpenAI's Files API): a batch's input, kept in the store with their bytes, so
any replica can start a batch from a file another replica accepted.

The bytes go in as pieces of ``CHUNK_BYTES`` (``file_chunks``), read from the upload's spool
file on disk one at a time, and come back out the same way: a large upload never sits whole in
memory on its way in or out. Files stored before the pieces keep their bytes in ``files``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from tiergate.batch.jobs import now_ms, scoped

if TYPE_CHECKING:
    from tiergate.store.backend import Store

__all__ = ["FileStore", "StoredFile"]

_COLUMNS = "id, tenant, key_id, purpose, filename, bytes, created_ms"
CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredFile:
    id: str
    tenant: str
    key_id: str | None
    purpose: str
    filename: str
    bytes: int
    created_ms: int


def _file(row: Sequence[Any]) -> StoredFile:
    return StoredFile(
        id=str(row[0]),
        tenant=str(row[1]),
        key_id=row[2],
        purpose=str(row[3]),
        filename=str(row[4]),
        bytes=int(row[5]),
        created_ms=int(row[6]),
    )


class FileStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(
        self,
        *,
        file_id: str,
        tenant: str,
        key_id: str | None,
        purpose: str,
        filename: str,
        content: bytes,
    ) -> StoredFile:
        row = (file_id, tenant, key_id, purpose, filename, len(content), now_ms())
        await self._store.execute(
            f"INSERT INTO files ({_COLUMNS}, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (*row, content),
        )
        return _file(row)

    async def create_from(
        self,
        *,
        file_id: str,
        tenant: str,
        key_id: str | None,
        purpose: str,
        filename: str,
        source: IO[bytes],
    ) -> StoredFile:
        """A file whose bytes are read from ``source`` (a spool file, from its start) piece by
        piece. The ``files`` row goes in last, so a file is never visible half-written."""
        size = n = 0
        try:
            while True:
                piece = await asyncio.to_thread(source.read, CHUNK_BYTES)
                if not piece:
                    break
                await self._store.execute(
                    "INSERT INTO file_chunks (file_id, n, data) VALUES (?, ?, ?)",
                    (file_id, n, piece),
                )
                size += len(piece)
                n += 1
            row = (file_id, tenant, key_id, purpose, filename, size, now_ms())
            await self._store.execute(
                f"INSERT INTO files ({_COLUMNS}, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, b""),
            )
        except BaseException:
            with contextlib.suppress(Exception):  # else ``purge`` finds them later
                await self._store.execute("DELETE FROM file_chunks WHERE file_id = ?", (file_id,))
            raise
        return _file(row)

    async def get(self, file_id: str, tenant: str | None) -> StoredFile | None:
        """The file, if it exists and ``tenant`` may see it (None: any tenant's)."""
        where, params = scoped("id = ?", [file_id], tenant)
        rows = await self._store.fetchall(f"SELECT {_COLUMNS} FROM files WHERE {where}", params)
        return _file(rows[0]) if rows else None

    async def content(self, file_id: str) -> bytes:
        return b"".join([piece async for piece in self.pieces(file_id)])

    async def pieces(self, file_id: str) -> AsyncIterator[bytes]:
        """The file's bytes, a piece at a time."""
        rows = await self._store.fetchall("SELECT content FROM files WHERE id = ?", (file_id,))
        if not rows:
            return
        if rows[0][0]:
            yield bytes(rows[0][0])  # stored whole, before the pieces
            return
        n = 0
        while True:
            rows = await self._store.fetchall(
                "SELECT data FROM file_chunks WHERE file_id = ? AND n = ?", (file_id, n)
            )
            if not rows:
                return
            yield bytes(rows[0][0])
            n += 1

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
        await self._store.execute("DELETE FROM file_chunks WHERE file_id = ?", (file_id,))

    async def purge(self, created_before_ms: int) -> None:
        await self._store.execute("DELETE FROM files WHERE created_ms < ?", (created_before_ms,))
        # Pieces of deleted files, and of uploads a crash left without their ``files`` row.
        await self._store.execute(
            "DELETE FROM file_chunks WHERE file_id NOT IN (SELECT id FROM files)"
        )
