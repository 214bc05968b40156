"""OpenAI's Batch and Files APIs over tiergate's batch jobs.

    POST   /v1/files                    upload a batch input file (multipart, purpose=batch)
    GET    /v1/files                    list, newest first (limit, after)
    GET    /v1/files/{id}               a file object
    GET    /v1/files/{id}/content       its bytes; for a batch's output and error files, its lines
    DELETE /v1/files/{id}               delete an uploaded file
    POST   /v1/batches                  create from an uploaded file (/v1/chat/completions, 24h)
    GET    /v1/batches                  list, newest first (limit, after)
    GET    /v1/batches/{id}             retrieve: status, counts, output and error file ids
    POST   /v1/batches/{id}/cancel      cancel: unstarted requests are dropped

A batch's output file (answered requests) and error file (failed, canceled or expired ones) are
not stored twice: their ids (``file-<batch id>-output`` / ``-errors``) name the job, and their
lines are rendered from its items when read.

One handler per endpoint; ``server/app.py``'s route table maps the paths to them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from python_multipart import create_form_parser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import Field, File, FormParser

from tiergate.batch import Job, StoredFile
from tiergate.errors import InvalidRequest, NotFound
from tiergate.gateway.auth import Principal
from tiergate.gateway.batch_items import visible_to
from tiergate.gateway.request_id import new_request_id
from tiergate.server.query import page_limit, query_params
from tiergate.server.responses import (
    Receive,
    body_pieces,
    read_body,
    request_headers,
    send_chunks,
    send_json,
)
from tiergate.wire import openai_batches as shapes
from tiergate.wire.batch_states import ItemState
from tiergate.wire.nesting import json_body
from tiergate.wire.openai import FORMAT as OPENAI

if TYPE_CHECKING:
    from tiergate.gateway.batch_items import Batches
    from tiergate.server.routes import Call

__all__ = [
    "cancel",
    "create",
    "delete_file",
    "file",
    "file_content",
    "list_files",
    "list_jobs",
    "retrieve",
    "upload",
]

_OUTPUT, _ERRORS = "-output", "-errors"
_OCTETS = (b"content-type", b"application/octet-stream")


async def list_jobs(batches: Batches, call: Call) -> None:
    query = query_params(call.scope)
    jobs, more = await batches.jobs.page(
        visible_to(call.principal),
        page_limit(query),
        after=query.get("after"),
        client_format=OPENAI.name,
    )
    shown = [await _shown(batches, job) for job in jobs]
    await send_json(call.send, 200, shapes.encode_list(shown, more))


async def retrieve(batches: Batches, call: Call) -> None:
    job = await batches.job(call.params["batch_id"], call.principal, OPENAI)
    await send_json(call.send, 200, await _shown(batches, job))


async def cancel(batches: Batches, call: Call) -> None:
    batch_id = call.params["batch_id"]
    await batches.jobs.cancel(await batches.job(batch_id, call.principal, OPENAI))
    job = await batches.job(batch_id, call.principal, OPENAI)  # as the cancel left it
    await send_json(call.send, 200, await _shown(batches, job))


async def create(batches: Batches, call: Call) -> None:
    principal, send = call.principal, call.send
    body = await read_body(call.receive, 1024 * 1024)
    file_id, metadata = shapes.decode_create(json_body(body))
    stored = await batches.files.get(file_id, visible_to(principal))
    if stored is None:
        raise NotFound(f"no such file: {file_id}", param="input_file_id")
    if stored.purpose != "batch":
        raise InvalidRequest(
            f"file {file_id} was uploaded with purpose {stored.purpose!r}, not 'batch'",
            param="input_file_id",
        )
    job = await batches.submit(
        principal,
        wire=OPENAI,
        id_prefix="batch_",
        items=_requests(batches, file_id),
        where=lambda i: f"input file request {i + 1}",
        endpoint=shapes.ENDPOINT,
        input_file_id=file_id,
        metadata=orjson.dumps(metadata).decode() if metadata else None,
    )
    await send_json(send, 200, shapes.encode_batch(job, {ItemState.QUEUED: job.total}, None, None))


async def _requests(batches: Batches, file_id: str) -> AsyncIterator[list[tuple[str, str, str]]]:
    """The file's requests, checked off the event loop, a stored piece at a time: neither the
    whole file nor all its requests are held in memory."""
    reader = shapes.InputReader(batches.config.max_requests)
    async for piece in batches.files.pieces(file_id):
        if items := await asyncio.to_thread(reader.feed, piece):
            yield items
    if items := await asyncio.to_thread(reader.finish):
        yield items


async def list_files(batches: Batches, call: Call) -> None:
    query = query_params(call.scope)
    files, more = await batches.files.page(
        visible_to(call.principal), page_limit(query, 10_000, 10_000), query.get("after")
    )
    await send_json(
        call.send, 200, shapes.encode_list([shapes.encode_file(f) for f in files], more)
    )


async def file(batches: Batches, call: Call) -> None:
    """A file object: an uploaded file's, or a view of a batch's output or error file."""
    file_id = call.params["file_id"]
    output = await _output_of(batches, file_id, call.principal)
    if output is not None:
        job, failed = output
        size = 0
        async for chunk in _render(batches, job, failed):
            size += len(chunk)
        view = StoredFile(
            id=file_id,
            tenant=job.tenant,
            key_id=job.key_id,
            purpose="batch_output",
            filename=file_id + ".jsonl",
            bytes=size,
            created_ms=job.ended_ms or 0,
        )
        await send_json(call.send, 200, shapes.encode_file(view))
        return
    await send_json(call.send, 200, shapes.encode_file(await _stored(batches, call)))


async def file_content(batches: Batches, call: Call) -> None:
    file_id = call.params["file_id"]
    output = await _output_of(batches, file_id, call.principal)
    if output is not None:
        await send_chunks(call.send, [_OCTETS], _render(batches, *output))
        return
    stored = await _stored(batches, call)
    length = (b"content-length", b"%d" % stored.bytes)
    await send_chunks(call.send, [_OCTETS, length], batches.files.pieces(file_id))


async def delete_file(batches: Batches, call: Call) -> None:
    file_id = call.params["file_id"]
    if await _output_of(batches, file_id, call.principal) is not None:
        raise InvalidRequest(
            f"file {file_id} is a batch's output: delete the batch's "
            "input file instead, or leave it"
        )
    await _stored(batches, call)
    await batches.files.delete(file_id)
    await send_json(call.send, 200, {"id": file_id, "object": "file", "deleted": True})


async def _stored(batches: Batches, call: Call) -> StoredFile:
    file_id = call.params["file_id"]
    stored = await batches.files.get(file_id, visible_to(call.principal))
    if stored is None:
        raise NotFound(f"no such file: {file_id}")
    return stored


async def upload(batches: Batches, call: Call) -> None:
    """Stream the multipart body through the parser as it arrives: the file goes to a spool
    file on disk (python-multipart keeps at most 1 MiB of it in memory), then into the store
    piece by piece. More than ``batch.max_body_bytes`` is a 413 as soon as it is seen."""
    principal, receive = call.principal, call.receive
    content_type = request_headers(call.scope).get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise InvalidRequest("upload a file as multipart/form-data (fields: file, purpose)")
    limit = batches.config.max_body_bytes
    fields: dict[str, bytes] = {}
    uploads: list[tuple[str, File]] = []

    def on_field(field: Field) -> None:
        name = field.field_name.decode("utf-8", "replace") if field.field_name else ""
        fields[name] = (field.value or b"")[:1024]

    def on_file(file: File) -> None:
        name = (file.file_name or b"upload.jsonl").decode("utf-8", "replace")
        uploads.append((name.replace("\x00", "\ufffd")[:255], file))  # kept in the store

    try:
        parser = create_form_parser(
            {"Content-Type": content_type.encode("latin-1")},
            on_field,
            on_file,
            config={"MAX_MEMORY_FILE_SIZE": _SPOOL_BYTES},
        )
        await _feed(parser, receive, limit)
    except (FormParserError, ValueError) as exc:
        _close(uploads)
        raise InvalidRequest(f"malformed multipart body: {exc}") from None
    except BaseException:
        _close(uploads)
        raise
    try:
        purpose = fields.get("purpose", b"").decode("utf-8", "replace")
        if purpose != "batch":
            raise InvalidRequest("purpose: only 'batch' files are accepted here", param="purpose")
        if len(uploads) != 1:
            raise InvalidRequest("file: send exactly one file", param="file")
        filename, file = uploads[0]
        source = file.file_object
        source.seek(0)
        stored = await batches.files.create_from(
            file_id="file-" + new_request_id()[4:],
            tenant=principal.tenant,
            key_id=principal.key_id,
            purpose=purpose,
            filename=filename,
            source=source,
        )
    finally:
        _close(uploads)
    await send_json(call.send, 200, shapes.encode_file(stored))


_SPOOL_BYTES = 1024 * 1024  # of an uploaded file kept in memory before it goes to disk
_FEED_BYTES = 1024 * 1024  # of the body handed to the parser (off the event loop) at once


async def _feed(parser: FormParser, receive: Receive, limit: int) -> None:
    """The request body into ``parser`` as it arrives, a 413 past ``limit`` bytes."""
    async for piece in body_pieces(receive, limit, _FEED_BYTES):
        await asyncio.to_thread(parser.write, piece)
    await asyncio.to_thread(parser.finalize)


def _close(uploads: list[tuple[str, File]]) -> None:
    """Delete the spool files (python-multipart deletes its temporary files on close)."""
    for _, file in uploads:
        with contextlib.suppress(Exception):
            file.close()


async def _shown(batches: Batches, job: Job) -> dict[str, Any]:
    counts = await batches.jobs.counts(job.id)
    output = errors = None
    if job.ended_ms is not None:
        if counts.get(ItemState.SUCCEEDED):
            output = f"file-{job.id}{_OUTPUT}"
        if shapes.failed_count(counts):
            errors = f"file-{job.id}{_ERRORS}"
    return shapes.encode_batch(job, counts, output, errors)


async def _output_of(
    batches: Batches, file_id: str, principal: Principal
) -> tuple[Job, bool] | None:
    """(job, whether it is the error file) for a batch's output or error file id."""
    for suffix, failed in ((_OUTPUT, False), (_ERRORS, True)):
        if file_id.startswith("file-batch_") and file_id.endswith(suffix):
            job_id = file_id.removeprefix("file-").removesuffix(suffix)
            job = await batches.jobs.get(job_id, visible_to(principal), OPENAI.name)
            if job is None or job.ended_ms is None:
                raise NotFound(f"no such file: {file_id}")
            return job, failed
    return None


async def _render(batches: Batches, job: Job, failed: bool) -> AsyncIterator[bytes]:
    """The output (or error) file's lines, a page of items at a time."""
    async for rows in batches.jobs.pages(job.id):
        yield b"".join(
            shapes.output_line(
                job_id=job.id,
                n=r.n,
                custom_id=r.custom_id,
                state=r.state,
                status=r.status,
                body=r.result,
                request_id=r.request_id,
            )
            for r in rows
            if (r.state is not ItemState.SUCCEEDED) == failed
        )
