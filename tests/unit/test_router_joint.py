"""The joint TF-IDF + shape featuriser: its columns, its use of shape on foreign vocabulary,
and its figure on the real GSM8K outcome file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

from tiergate.cli.router import router
from tiergate.routing.learned import LearnedRouter, fit_models, parse_spec
from tiergate.routing.learned._features import TfidfFeaturiser, make_featuriser
from tiergate.routing.learned._joint import SHAPE_SCALE, tfidf_rows
from tiergate.routing.learned._shape import SHAPE_NAMES, shape_matrix

GSM8K = Path("/work/shared/data/routing/gsm8k_outcomes.jsonl")
PROMPTS = [
    "Tom has 3 apples and buys 4 more. How many apples does he have?",
    "Each box holds 12.5 kg. She sells 20% of the boxes for $3 each. How many are left?",
    "What is the capital of France?",
    "A train travels 60 km per hour for 2 hours, then twice as fast. How far did it go?",
]


@pytest.mark.parametrize("kind", ["tfidf-shape", "tfidf-char-shape", "tfidf-wide-shape"])
def test_columns_are_tfidf_then_scaled_shape(kind: str) -> None:
    joint = make_featuriser(kind).fit(PROMPTS)
    matrix = joint.transform(PROMPTS).toarray()
    tfidf = TfidfFeaturiser(chars=kind != "tfidf-shape", wide=kind == "tfidf-wide-shape").fit(
        PROMPTS
    )
    words = tfidf.transform(PROMPTS).toarray()
    shape = StandardScaler().fit_transform(shape_matrix(PROMPTS))
    assert matrix.shape == (len(PROMPTS), words.shape[1] + len(SHAPE_NAMES))
    assert np.allclose(matrix[:, : words.shape[1]], words)
    assert np.allclose(matrix[:, words.shape[1] :], SHAPE_SCALE * shape)
    assert parse_spec(kind) == [(kind, 1.0)]


def test_wide_ngrams_span_word_boundaries() -> None:
    """``tfidf-wide-shape`` keeps notation whole: character n-grams run across the space
    between "S_5" and "." and word 3-grams exist; ``tfidf-char-shape`` has neither."""
    prompts = ["Find the index of <p> in S_5 . Each", "Find the index of <q> in S_5 . Per"] * 3
    wide = TfidfFeaturiser(wide=True).fit(prompts)
    narrow = TfidfFeaturiser(chars=True).fit(prompts)
    assert wide.name == "tfidf-wide" and wide.chars
    assert wide._char is not None and narrow._char is not None
    assert "5 ." in wide._char.vocabulary_ and "5 ." not in narrow._char.vocabulary_
    assert "the index of" in wide._word.vocabulary_
    assert "the index of" not in narrow._word.vocabulary_
    assert wide.transform(prompts).shape[1] > narrow.transform(prompts).shape[1]


def test_wide_router_saves_and_loads(tmp_path: Path) -> None:
    outcomes = {"cheap": np.asarray([1.0, 0.0, 1.0, 0.0]), "big": np.ones(4)}
    fitted = fit_models(PROMPTS, outcomes, ("cheap", "big"), spec="tfidf-wide-shape:0.8+emb:0.2")
    fitted.save(tmp_path / "wide.tgr")
    loaded = LearnedRouter.load(tmp_path / "wide.tgr")
    assert loaded.spec == "tfidf-wide-shape:0.8+emb:0.2"
    assert np.allclose(loaded.scores(PROMPTS), fitted.scores(PROMPTS))
    assert loaded.score(PROMPTS[1]) > loaded.score(PROMPTS[0])


def test_shape_columns_decide_when_the_vocabulary_is_foreign() -> None:
    """Trained where long prompts are the hard ones, the router still ranks prompts written in
    words it never saw: the shape columns carry the decision (why the joint model transfers)."""
    rng = np.random.default_rng(0)
    vocabulary = [f"word{i}" for i in range(40)]
    prompts, weak = [], []
    for i in range(200):
        long = i % 2 == 0
        words = rng.choice(vocabulary, size=60 if long else 8)
        prompts.append(" ".join(words) + ". " * (6 if long else 1) + f"case {i}")
        weak.append(0.0 if long and rng.random() < 0.8 else 1.0)
    strong = np.ones(len(prompts))
    fitted = fit_models(
        prompts,
        {"cheap": np.asarray(weak), "big": strong},
        ("cheap", "big"),
        spec="tfidf-shape",
    )
    foreign_short = "zebra quartz fjord."
    foreign_long = " ".join(["zebra quartz fjord."] * 20)
    assert fitted.score(foreign_long) > fitted.score(foreign_short)


@pytest.mark.skipif(not GSM8K.exists(), reason="shared GSM8K outcome data not present")
def test_real_gsm8k_five_fold_beats_the_blend() -> None:
    runner = CliRunner()
    figures = {}
    for spec in ("tfidf:0.6+shape:0.4", "tfidf-shape"):
        res = runner.invoke(router, ["eval", str(GSM8K), "--features", spec, "--json"])
        assert res.exit_code == 0, res.stderr
        figures[spec] = json.loads(res.stdout)["APGR"]
    assert figures["tfidf-shape"] > figures["tfidf:0.6+shape:0.4"] + 0.01


@pytest.mark.parametrize("sublinear", [True, False])
def test_fast_tfidf_rows_match_scikit_learn(sublinear: bool) -> None:
    """The validation-free path (sublinear) and its fallback give scikit-learn's rows, also
    for a prompt made only of words the vectoriser never saw (an all-zero row)."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=sublinear, dtype=np.float32)
    vectorizer.fit(PROMPTS)
    probes = [*PROMPTS, "zebra quartz fjord", "apples apples apples per hour"]
    fast = tfidf_rows(vectorizer, probes).toarray()
    assert np.allclose(fast, vectorizer.transform(probes).toarray())
    assert not fast[len(PROMPTS)].any() and fast[-1].any()
