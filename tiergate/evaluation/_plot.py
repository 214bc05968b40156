"""The quality-vs-strong-calls picture: router against random and oracle.

matplotlib is imported here only, with the Agg backend, so evaluating without ``--plot``
never loads it and a headless machine never needs a display.
"""

from __future__ import annotations

from pathlib import Path

from numpy.typing import ArrayLike

from tiergate.evaluation._curve import apgr, exact_curve
from tiergate.evaluation._report import oracle_scores


def plot_curves(
    path: str | Path,
    scores: ArrayLike,
    weak: ArrayLike,
    strong: ArrayLike,
    *,
    label: str = "router",
    title: str = "Quality vs strong-model calls",
) -> None:
    """Write a PNG of the exact per-prompt curves (APGR in the legend uses the same method)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    router = exact_curve(scores, weak, strong)
    oracle = exact_curve(oracle_scores(weak, strong), weak, strong)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    ax.plot(
        100 * oracle.share,
        oracle.quality,
        color="tab:green",
        label=f"oracle (APGR {apgr(oracle):.3f})",
    )
    ax.plot(
        100 * router.share,
        router.quality,
        color="tab:blue",
        label=f"{label} (APGR {apgr(router):.3f})",
    )
    ax.plot(
        [0, 100],
        [router.weak_quality, router.strong_quality],
        color="grey",
        linestyle=":",
        label="random (APGR 0.500)",
    )
    ax.axhline(router.weak_quality, color="tab:orange", linestyle="--", linewidth=0.8, label="weak")
    ax.axhline(
        router.strong_quality, color="tab:red", linestyle="--", linewidth=0.8, label="strong"
    )
    ax.set_xlabel("strong-model calls (% of prompts)")
    ax.set_ylabel("quality (mean outcome)")
    ax.set_title(f"{title} (exact per-prompt curve)")
    ax.set_xlim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
