"""The token-embedding table and tokenizer of a GGUF model file, without running the model.

A language model's input embeddings place tokens of related meaning near each other; averaged
over a prompt they are a sentence vector that costs a tokenisation and a table look-up, not a
forward pass. The table is mapped straight from the file (a small GGUF reader: header,
metadata skipped, tensor directory; rows dequantised as they are asked for), so no extra
package is needed; the tokenizer is llama.cpp's, loaded vocabulary-only.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

_MAGIC = b"GGUF"
# Metadata value types of the GGUF format: fixed sizes, plus string (8) and array (9).
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
# Tensor types this reader can turn into float32.
_F32, _F16, _Q8_0 = 0, 1, 8
_Q8_0_BLOCK = 32  # values per Q8_0 block: one float16 scale, 32 int8
_Q8_0_BLOCK_BYTES = 2 + _Q8_0_BLOCK


class GGUFError(ValueError):
    """The file is not a GGUF file this reader understands."""


class _Cursor:
    def __init__(self, buffer: Any) -> None:
        self.buffer = buffer
        self.at = 0

    def unpack(self, fmt: str) -> Any:
        values = struct.unpack_from("<" + fmt, self.buffer, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def string(self) -> bytes:
        length = self.unpack("Q")
        value = bytes(self.buffer[self.at : self.at + length])
        self.at += length
        return value

    def skip_value(self, kind: int) -> Any:
        """Skips one metadata value; returns it when it is a scalar (for ``general.alignment``)."""
        if kind in _SCALAR_SIZES:
            fmt = {1: "B", 2: "H", 4: "I", 8: "Q"}[_SCALAR_SIZES[kind]]
            return self.unpack(fmt)
        if kind == _STRING:
            length = self.unpack("Q")
            self.at += length
            return None
        if kind == _ARRAY:
            item, count = self.unpack("IQ")
            if item in _SCALAR_SIZES:
                self.at += _SCALAR_SIZES[item] * count
            else:
                for _ in range(count):
                    self.skip_value(item)
            return None
        raise GGUFError(f"unknown GGUF metadata type {kind}")


class EmbeddingTable:
    """Rows of a GGUF tensor, memory-mapped and dequantised only for the ids asked for.

    The SmolLM2 table is 49,152 x 576 values; as float32 it would take 113 MB in every process
    that routes, mapped as stored (Q8_0) it takes the page cache and a few rows per prompt.
    """

    def __init__(self, path: str | Path, kind: int, at: int, rows: int, dim: int) -> None:
        self.shape = (rows, dim)
        self._kind = kind
        if kind == _Q8_0:
            if dim % _Q8_0_BLOCK:
                raise GGUFError(f"Q8_0 rows of {dim} values are not whole blocks")
            self._blocks = dim // _Q8_0_BLOCK
            width = self._blocks * _Q8_0_BLOCK_BYTES
            self._data = np.memmap(path, dtype=np.uint8, mode="r", offset=at, shape=(rows, width))
        elif kind in (_F32, _F16):
            dtype = "<f4" if kind == _F32 else "<f2"
            self._data = np.memmap(path, dtype=dtype, mode="r", offset=at, shape=(rows, dim))
        else:
            raise GGUFError(f"tensor type {kind} is not supported (F32, F16 or Q8_0)")

    def mean(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        """The mean of the rows ``ids`` (zeros for no ids), as float32."""
        if len(ids) == 0:
            return np.zeros(self.shape[1], dtype=np.float32)
        if self._kind != _Q8_0:
            rows: NDArray[np.float32] = np.asarray(self._data[ids], dtype=np.float32)
            mean: NDArray[np.float32] = rows.mean(axis=0, dtype=np.float32)
            return mean
        # Each block is a float16 scale and 32 int8 values; sum scale * values over the rows,
        # block by block, as one batched matrix product.
        picked = self._data[ids].reshape(len(ids), self._blocks, _Q8_0_BLOCK_BYTES)
        scales = picked[:, :, :2].copy().view("<f2")[..., 0].astype(np.float32)
        values = picked[:, :, 2:].view(np.int8).astype(np.float32)
        summed: NDArray[np.float32] = np.matmul(scales.T[:, None, :], values.transpose(1, 0, 2))
        return summed.reshape(self.shape[1]) / np.float32(len(ids))


def open_table(path: str | Path, name: str) -> EmbeddingTable:
    """A 2-D tensor of a GGUF file (``token_embd.weight``: one row per token)."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
        if m[:4] != _MAGIC:
            raise GGUFError(f"{path} is not a GGUF file")
        cursor = _Cursor(m)
        cursor.at = 4
        version, n_tensors, n_metadata = cursor.unpack("IQQ")
        if version < 2:
            raise GGUFError(f"GGUF version {version} is not supported (2 or later)")
        alignment = 32
        for _ in range(n_metadata):
            key = cursor.string()
            value = cursor.skip_value(cursor.unpack("I"))
            if key == b"general.alignment" and value:
                alignment = int(value)
        found: tuple[tuple[int, ...], int, int] | None = None
        for _ in range(n_tensors):
            tensor = cursor.string()
            dims = tuple(cursor.unpack("Q") for _ in range(cursor.unpack("I")))
            kind, offset = cursor.unpack("IQ")
            if tensor == name.encode():
                found = (dims, kind, offset)
        start = -(-cursor.at // alignment) * alignment
    if found is None:
        raise GGUFError(f"{path} has no tensor {name!r}")
    dims, kind, offset = found
    if len(dims) != 2:
        raise GGUFError(f"tensor {name!r} has {len(dims)} dimensions, not 2")
    # GGUF lists dimensions fastest-varying first: (dim, vocab) is vocab rows of dim values.
    return EmbeddingTable(path, kind, start + offset, rows=int(dims[1]), dim=int(dims[0]))


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """llama.cpp logs its loading to file descriptor 2; a router load should not."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class GGUFTokenizer:
    """llama.cpp's tokenizer for a GGUF file, vocabulary only (no weights, no context)."""

    def __init__(self, path: str | Path) -> None:
        import llama_cpp

        self._bindings = llama_cpp
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        with _quiet_stderr():
            llama_cpp.llama_backend_init()
            self._model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
        if self._model is None:
            raise GGUFError(f"llama.cpp could not load the vocabulary of {path}")
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        self.size = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self._lock = threading.Lock()
        self._buffer = (llama_cpp.llama_token * 4096)()

    def ids(self, text: str) -> NDArray[np.int64]:
        """Token ids of ``text`` (no BOS, special-token text kept as plain text)."""
        raw = text.encode("utf-8", errors="replace")
        bindings = self._bindings
        with self._lock:
            n = bindings.llama_tokenize(
                self._vocab, raw, len(raw), self._buffer, len(self._buffer), False, False
            )
            if n < 0:  # longer than the buffer: grow it to the size llama.cpp asked for
                self._buffer = (bindings.llama_token * -n)()
                n = bindings.llama_tokenize(
                    self._vocab, raw, len(raw), self._buffer, len(self._buffer), False, False
                )
            ids: NDArray[np.int64] = np.ctypeslib.as_array(self._buffer)[:n].astype(np.int64)
            return ids
