"""The gateway raises the cyclic collector's young-object threshold when it starts serving.

Why: with the default 700, collections ran every few requests under load and freed nothing
(bench/results/history.md, "The cyclic garbage collector").
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest

from tiergate.server.app import GC_YOUNG_THRESHOLD, tune_collector


@pytest.fixture
def default_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_serving_raises_the_young_threshold(
    default_thresholds: None, make_gateway: Callable[..., str]
) -> None:
    assert gc.get_threshold() == (700, 10, 10)
    make_gateway()  # returns once the app's start-up has run
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)


def test_a_higher_threshold_is_kept(default_thresholds: None) -> None:
    gc.set_threshold(GC_YOUNG_THRESHOLD * 2, 5, 7)
    tune_collector()
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD * 2, 5, 7)
