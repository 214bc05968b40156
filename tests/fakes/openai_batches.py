"""A fake of OpenAI's Files and Batch APIs, written from the API reference.

``POST /v1/files`` (multipart: ``purpose`` and ``file``), ``GET /v1/files/{id}/content``,
``DELETE /v1/files/{id}``,
``POST /v1/batches`` (``input_file_id``, ``endpoint`` ``/v1/chat/completions``,
``completion_window`` ``24h``), ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``.

A batch stays ``in_progress`` for ``upstream.batch_looks_before_end`` retrieves, then
``completed``: each input line takes the next scripted step, as a ``/v1/chat/completions``
call would (a ``Reply`` goes to the output file with status 200, a ``Fail`` to the error file
with its status and error body); a body the API would refuse goes to the error file with 400.
A batch canceled before it ends ends ``cancelled``, every request in the error file with
``batch_cancelled``.
"""

from __future__ import annotations

import json
import time
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from tests.fakes.http import RecordedRequest, Send, send_body, send_json
from tests.fakes.openai_app import ERRORS, completion_for, error_body
from tests.fakes.openai_checks import check_chat_request
from tests.fakes.script import Fail, new_id

_ENDPOINT = "/v1/chat/completions"


def _not_found(what: str) -> dict[str, Any]:
    return error_body(f"No such {what}", "invalid_request_error", None)


async def handle(upstream: Any, request: RecordedRequest, send: Send) -> None:
    kind, _, rest = request.path.removeprefix("/v1/").partition("/")
    object_id, _, action = rest.partition("/")
    if (request.method, kind, object_id) == ("POST", "files", ""):
        await _upload(upstream, request, send)
    elif (request.method, kind, action) == ("GET", "files", "content"):
        content = upstream.files.get(object_id)
        if content is None:
            await send_json(send, 404, _not_found(f"File object: {object_id}"))
        else:
            await send_body(send, 200, content, headers={"content-type": "application/jsonl"})
    elif request.method == "DELETE" and kind == "files" and not action:
        if upstream.files.pop(object_id, None) is None:
            await send_json(send, 404, _not_found(f"File object: {object_id}"))
        else:
            upstream.deleted.append(object_id)
            await send_json(send, 200, {"id": object_id, "object": "file", "deleted": True})
    elif (request.method, kind, object_id) == ("POST", "batches", ""):
        await _create(upstream, request, send)
    elif kind == "batches" and object_id in upstream.batches:
        batch = upstream.batches[object_id]
        if request.method == "GET" and not action:
            batch["looks"] += 1
            if batch["looks"] > upstream.batch_looks_before_end or batch["status"] == "cancelling":
                _end(upstream, batch)
            await send_json(send, 200, _shown(batch))
        elif request.method == "POST" and action == "cancel":
            if batch["status"] == "in_progress":
                batch["status"], batch["cancelling_at"] = "cancelling", int(time.time())
            await send_json(send, 200, _shown(batch))
        else:
            await send_json(send, 404, _not_found(f"route {request.path}"))
    else:
        await send_json(send, 404, _not_found(f"{kind} {object_id}"))


def form_fields(request: RecordedRequest) -> dict[str, Any]:
    """A multipart upload's parts by field name (``email.message.EmailMessage`` each)."""
    content_type = request.header("content-type") or ""
    form = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
    )
    return (
        {part.get_param("name", header="content-disposition"): part for part in form.iter_parts()}
        if form.is_multipart()
        else {}
    )


async def _upload(upstream: Any, request: RecordedRequest, send: Send) -> None:
    fields = form_fields(request)
    file_part, purpose = fields.get("file"), fields.get("purpose")
    if file_part is None or purpose is None or purpose.get_content().strip() != "batch":
        message = "multipart fields file and purpose=batch are required"
        await send_json(send, 400, error_body(message, "invalid_request_error", None))
        return
    content = file_part.get_payload(decode=True)
    file_id = new_id("file-")
    upstream.files[file_id] = content
    await send_json(
        send,
        200,
        {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "purpose": "batch",
            "filename": file_part.get_filename(),
        },
    )


async def _create(upstream: Any, request: RecordedRequest, send: Send) -> None:
    body = request.json if isinstance(request.json, dict) else {}
    content = upstream.files.get(body.get("input_file_id"))
    if content is None:
        await send_json(send, 400, _not_found(f"File object: {body.get('input_file_id')}"))
        return
    if body.get("endpoint") != _ENDPOINT or body.get("completion_window") != "24h":
        message = "endpoint must be /v1/chat/completions and completion_window 24h"
        await send_json(send, 400, error_body(message, "invalid_request_error", None))
        return
    batch_id = new_id("batch_")
    upstream.batches[batch_id] = {
        "id": batch_id,
        "input_file_id": body["input_file_id"],
        "status": "in_progress",
        "lines": [json.loads(line) for line in content.splitlines() if line.strip()],
        "looks": 0,
        "created_at": int(time.time()),
        "cancelling_at": None,
        "output_file_id": None,
        "error_file_id": None,
        "completed": 0,
        "failed": 0,
    }
    await send_json(send, 200, _shown(upstream.batches[batch_id]))


def _end(upstream: Any, batch: dict[str, Any]) -> None:
    if batch["status"] not in ("in_progress", "cancelling"):
        return
    canceled = batch["status"] == "cancelling"
    output, errors = [], []
    for entry in batch["lines"]:
        line: dict[str, Any] = {
            "id": new_id("batch_req_"),
            "custom_id": entry["custom_id"],
            "response": None,
            "error": None,
        }
        if canceled:
            line["error"] = {"code": "batch_cancelled", "message": "The batch was cancelled."}
            errors.append(line)
            continue
        status, answer = _answer(upstream, entry.get("body"))
        line["response"] = {"status_code": status, "request_id": new_id("req_"), "body": answer}
        (output if status == 200 else errors).append(line)
    for name, lines in (("output_file_id", output), ("error_file_id", errors)):
        if lines:
            file_id = new_id("file-")
            upstream.files[file_id] = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
            batch[name] = file_id
    batch["completed"], batch["failed"] = len(output), len(errors)
    batch["status"] = "cancelled" if canceled else "completed"


def _answer(upstream: Any, body: Any) -> tuple[int, dict[str, Any]]:
    problem = check_chat_request(body)
    if problem:
        return 400, error_body(problem[0], "invalid_request_error", None, problem[1])
    step = upstream.next_step()
    if isinstance(step, Fail):
        kind, code = ERRORS.get(step.status, ("server_error", None))
        return step.status, error_body(step.message, step.error_type or kind, code)
    return 200, completion_for(body, step)


def _shown(batch: dict[str, Any]) -> dict[str, Any]:
    ended = batch["status"] in ("completed", "cancelled")
    return {
        "id": batch["id"],
        "object": "batch",
        "endpoint": _ENDPOINT,
        "errors": None,
        "input_file_id": batch["input_file_id"],
        "completion_window": "24h",
        "status": batch["status"],
        "output_file_id": batch["output_file_id"],
        "error_file_id": batch["error_file_id"],
        "created_at": batch["created_at"],
        "in_progress_at": batch["created_at"],
        "expires_at": batch["created_at"] + 86400,
        "finalizing_at": None,
        "completed_at": int(time.time()) if ended else None,
        "failed_at": None,
        "expired_at": None,
        "cancelling_at": batch["cancelling_at"],
        "cancelled_at": None,
        "request_counts": {
            "total": len(batch["lines"]),
            "completed": batch["completed"],
            "failed": batch["failed"],
        },
        "metadata": None,
    }
