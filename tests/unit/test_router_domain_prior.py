"""The domain prior: learned from ``domain`` labels only, shifts scores toward the domain's
gain, absent without labels, fitted inside each training fold, saved with the router."""

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tiergate.evaluation import oof_qualities
from tiergate.evaluation._kfold import _splits
from tiergate.routing.learned import LearnedRouter, OutcomeData, fit_models, parse_lines
from tiergate.routing.learned._domain_prior import WEIGHT, fit_domain_prior

# Same shape (length, lines, digits) in both topics, so a shape-only router cannot tell them
# apart and any difference in score comes from the prior.
TOPICS = {
    "chemistry": ["acid", "base", "molar", "reagent", "titration", "oxidation", "ion"],
    "history": ["treaty", "empire", "dynasty", "revolution", "monarch", "war", "senate"],
}


def _prompt(topic: str, i: int) -> str:
    words = TOPICS[topic]
    return f"Question {i}: which {words[i % 7]} and {words[(i + 3) % 7]} statement is true?"


def _lines(n: int = 40, with_domain: bool = True) -> list[str]:
    """Chemistry: the cheap model fails and the strong one succeeds; history: both succeed,
    with a few exceptions so no estimator sees a single class."""
    lines = []
    for topic in TOPICS:
        for i in range(n):
            flip = i % 10 == 0
            cheap, mid, big = (0, 0, 1) if topic == "chemistry" else (1, 1, 1)
            if flip:
                cheap, big = 1 - cheap, 1 - big
            row = {
                "prompt": _prompt(topic, i),
                "outcomes": {"cheap": cheap, "mid": mid, "big": big},
            }
            if with_domain:
                row["domain"] = topic
            lines.append(json.dumps(row))
    return lines


def _fit(
    with_domain: bool = True, models: tuple[str, ...] = ("cheap", "big"), **kw: Any
) -> tuple[OutcomeData, LearnedRouter]:
    data = parse_lines(_lines(with_domain=with_domain))
    return data, fit_models(
        list(data.prompts), data.outcomes, models, spec="shape", domains=data.domains, **kw
    )


def test_prior_learns_the_gain_of_each_domain() -> None:
    data = parse_lines(_lines())
    prior = fit_domain_prior(data.prompts, data.domains, data.outcomes)
    assert prior is not None and prior.domains == ("chemistry", "history")
    gain = prior.offsets["big"] - prior.offsets["cheap"]
    assert gain[0] > 0.2 and gain[1] < -0.2  # chemistry needs the strong model, history not
    new = ["Which titration and reagent statement is true?", "Which empire and treaty is true?"]
    extra = prior.adjustments(new, ["cheap", "big"])
    assert extra["big"][0] - extra["cheap"][0] == pytest.approx(WEIGHT * gain[0], abs=0.02)
    assert extra["big"][1] - extra["cheap"][1] == pytest.approx(WEIGHT * gain[1], abs=0.02)


def test_prior_ranks_the_needy_domain_higher() -> None:
    chem, hist = (
        "Which molar and ion statement is true?",
        "Which dynasty and war statement is true?",
    )
    _, plain = _fit(domain_prior=False)
    _, learned = _fit()
    assert plain.domain_prior is None and learned.domain_prior is not None
    plain_gap = plain.score(chem) - plain.score(hist)
    assert abs(plain_gap) < 0.1  # the shape alone hardly separates the topics
    assert learned.score(chem) - learned.score(hist) > plain_gap + 0.2


def test_no_prior_without_two_domains() -> None:
    data, router = _fit(with_domain=False)
    assert router.domain_prior is None
    assert fit_domain_prior(data.prompts, ["only"] * len(data), data.outcomes) is None
    _, off = _fit(domain_prior=False)
    prompts = list(data.prompts)
    np.testing.assert_array_equal(router.scores(prompts), off.scores(prompts))


def test_prior_reaches_every_model_of_a_choice() -> None:
    _, router = _fit(models=("cheap", "mid", "big"))
    q = router.qualities(["Which acid and base statement is true?"])
    assert q["big"][0] - q["cheap"][0] > 0.2 and q["big"][0] - q["mid"][0] > 0.2
    assert router.choose("Which acid and base statement is true?") == "big"
    assert router.choose("Which monarch and senate statement is true?") == "cheap"


def test_cross_validation_fits_the_prior_per_fold() -> None:
    data = parse_lines(_lines())
    models = ("cheap", "big")
    with_prior = oof_qualities(data, models, "shape", folds=4, seed=3)
    without = oof_qualities(data, models, "shape", folds=4, seed=3, domain_prior=False)
    prompts = list(data.prompts)
    expected = {m: without[m].copy() for m in models}
    for train, test in _splits(len(prompts), 4, 3):
        prior = fit_domain_prior(
            [prompts[j] for j in train],
            [data.domains[j] for j in train],
            {m: data.outcomes[m][train] for m in models},
        )
        assert prior is not None
        extra = prior.adjustments([prompts[j] for j in test], models)
        for m in models:
            expected[m][test] += extra[m]
    for m in models:
        np.testing.assert_allclose(with_prior[m], expected[m], atol=1e-9)
    everything = fit_domain_prior(prompts, data.domains, data.outcomes)
    assert everything is not None
    leaked = without["big"] + everything.adjustments(prompts, ["big"])["big"]
    assert not np.allclose(with_prior["big"], leaked)


def test_router_file_keeps_the_prior(tmp_path: Path) -> None:
    _, router = _fit()
    path = tmp_path / "r.tgr"
    router.save(path)
    loaded = LearnedRouter.load(path)
    prompts = ["Which oxidation and acid statement is true?", "Which war and treaty is true?"]
    np.testing.assert_array_equal(loaded.scores(prompts), router.scores(prompts))
    assert loaded.header["domain_prior"]["domains"] == 2


def test_version_2_router_file_still_loads(tmp_path: Path) -> None:
    _, router = _fit(domain_prior=False)
    body = pickle.dumps(
        {
            "components": list(router.components),
            "reference": router.reference_scores,
            "training_hashes": router.training_hashes,
        }
    )
    header = {
        "format": "tiergate-router",
        "version": 2,
        "kind": "router",
        "threshold": router.threshold,
        "models": {"weak": "cheap", "strong": "big"},
        "payload_bytes": len(body),
        "payload_sha256": hashlib.sha256(body).hexdigest(),
    }
    path = tmp_path / "old.tgr"
    path.write_bytes(json.dumps(header).encode() + b"\n" + body)
    old = LearnedRouter.load(path)
    assert old.domain_prior is None
    prompt = "Which acid and war statement is true?"
    assert old.score(prompt) == pytest.approx(router.score(prompt))
