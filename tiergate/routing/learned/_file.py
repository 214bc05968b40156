"""The router file: one JSON header line, then a pickled payload of scikit-learn objects.

    {"format": "tiergate-router", "version": 1, "payload_sha256": "...", ...}\\n
    <pickle bytes>

The header is read and checked (format name, version, payload length and SHA-256) before a
single byte is unpickled, so a wrong, truncated or edited file fails with a clear message
instead of a pickle traceback. This is an integrity check, not a trust boundary: unpickling
runs code, so load only router files you (or your CI) trained.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

FORMAT = "tiergate-router"
VERSION = 3  # 3: a router may carry a domain prior, which older tiergate cannot unpickle
READABLE = (2, 3)


class RouterFileError(ValueError):
    """The file is not a router file this version of tiergate can load."""


def write_router_file(path: str | Path, header: dict[str, Any], payload: Any) -> None:
    """Write header + payload atomically (a temp file renamed into place)."""
    body = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    full = {
        "format": FORMAT,
        "version": VERSION,
        **header,
        "payload_bytes": len(body),
        "payload_sha256": hashlib.sha256(body).hexdigest(),
    }
    line = json.dumps(full, sort_keys=True).encode("utf-8")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(line + b"\n" + body)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_header(path: str | Path) -> dict[str, Any]:
    """The checked JSON header alone (cheap: reads one line)."""
    header, _ = _read(path, with_body=False)
    return header


def read_router_file(path: str | Path, kind: str = "router") -> tuple[dict[str, Any], Any]:
    """Header and unpickled payload, after every header check passed (``kind`` included:
    a router file is not an answer validator, and the message says which one it is)."""
    header, body = _read(path, with_body=True)
    found = header.get("kind", "router")
    if found != kind:
        raise RouterFileError(f"{path}: this file holds a {found}, not a {kind}")
    return header, pickle.loads(body)


def _read(path: str | Path, *, with_body: bool) -> tuple[dict[str, Any], bytes]:
    try:
        with open(path, "rb") as handle:
            first = handle.readline(1 << 20)
            body = handle.read() if with_body else b""
    except OSError as exc:
        raise RouterFileError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        header = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RouterFileError(f"{path}: not a tiergate router file (no JSON header)") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RouterFileError(f"{path}: not a tiergate router file (format is not {FORMAT!r})")
    if header.get("version") not in READABLE:
        raise RouterFileError(
            f"{path}: router file version {header.get('version')!r}; this tiergate reads "
            f"versions {', '.join(map(str, READABLE))}: retrain with `tiergate router train`"
        )
    if with_body:
        if len(body) != header.get("payload_bytes"):
            raise RouterFileError(f"{path}: payload is truncated or padded")
        if hashlib.sha256(body).hexdigest() != header.get("payload_sha256"):
            raise RouterFileError(f"{path}: payload checksum mismatch (file was altered)")
    return header, body
