"""APGR / CPT on tiny hand-computed examples, and the random / oracle baselines."""

import numpy as np
import pytest

from tiergate.evaluation import apgr, cpt, decile_curve, exact_curve, oracle_scores, summarise

# 4 prompts: gains strong-weak = [1, 0, 0, 1]; weak quality 0.25, strong 0.75.
WEAK = np.array([0.0, 1.0, 0.0, 0.0])
STRONG = np.array([1.0, 1.0, 0.0, 1.0])


def test_oracle_order_recovers_area_by_hand() -> None:
    # Order by gain: two +1 first. q at x=0,.25,.5,.75,1 = .25,.5,.75,.75,.75
    c = exact_curve(oracle_scores(WEAK, STRONG), WEAK, STRONG)
    # area = .25*(.375 + .625 + .75 + .75) = .625; APGR = (.625-.25)/(.5) = .75
    assert apgr(c) == pytest.approx(0.75)
    assert cpt(c, 0.5) == pytest.approx(0.25)  # target .5 reached at x=.25 exactly
    assert cpt(c, 1.0) == pytest.approx(0.5)


def test_flat_scores_are_random_routing() -> None:
    c = exact_curve(np.zeros(4), WEAK, STRONG)
    assert apgr(c) == pytest.approx(0.5)
    assert cpt(c, 0.5) == pytest.approx(0.5)
    assert cpt(c, 0.8) == pytest.approx(0.8)
    assert apgr(decile_curve(np.zeros(4), WEAK, STRONG)) == pytest.approx(0.5)


def test_worst_order_scores_below_random() -> None:
    c = exact_curve(-oracle_scores(WEAK, STRONG), WEAK, STRONG)
    # Reverse order: q = .25,.25,.25,.5,.75 -> area .25*(.25+.25+.375+.625)=.375 -> APGR .25
    assert apgr(c) == pytest.approx(0.25)


def test_random_permutations_average_one_half() -> None:
    rng = np.random.default_rng(0)
    weak = (rng.random(2000) < 0.6).astype(float)
    strong = np.maximum(weak, (rng.random(2000) < 0.5).astype(float))
    values = [apgr(exact_curve(rng.random(2000), weak, strong)) for _ in range(20)]
    assert np.mean(values) == pytest.approx(0.5, abs=0.02)


def test_better_scores_give_higher_apgr_monotone() -> None:
    rng = np.random.default_rng(1)
    weak = (rng.random(1000) < 0.6).astype(float)
    strong = (rng.random(1000) < 0.8).astype(float)
    gain = strong - weak
    noise = rng.normal(size=1000)
    results = [summarise(gain + k * noise, weak, strong)["APGR_exact"] for k in (0.1, 0.5, 2.0, 50)]
    assert results == sorted(results, reverse=True)
    assert results[-1] == pytest.approx(0.5, abs=0.06)


def test_decile_curve_has_eleven_edges_and_ends() -> None:
    rng = np.random.default_rng(2)
    weak = (rng.random(500) < 0.5).astype(float)
    strong = np.ones(500)
    c = decile_curve(rng.random(500), weak, strong)
    assert c.share.size == 11
    assert c.share[0] == 0.0 and c.share[-1] == 1.0
    assert c.quality[-1] == pytest.approx(1.0)


def test_cpt_interpolates_inside_a_segment() -> None:
    # Curve from (0, .25) straight to (1, .75): 80% of the gap at x = .8.
    c = exact_curve(np.zeros(4), WEAK, STRONG)
    assert cpt(c, 0.3) == pytest.approx(0.3)


def test_graded_outcomes_and_shape_errors() -> None:
    weak = np.array([0.2, 0.5])
    strong = np.array([0.9, 0.5])
    assert apgr(exact_curve(np.array([1.0, 0.0]), weak, strong)) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        exact_curve(np.zeros(3), weak, strong)
