"""Model families: deployments that serve every model id matching a pattern (``claude-*``).

New models appear every few weeks; a gateway that answers 404 for them until its catalog is
updated is one users route around. A deployment whose ``model`` is a glob pattern serves any
requested id that matches it and that no ordinary deployment serves:

- the id is sent upstream as the client wrote it (or as the deployment's fixed
  ``upstream_model``, which points a whole family at one model: Claude Code on DeepSeek);
- a catalog entry for the id (a dated snapshot of a known model, an entry added under
  ``models:`` in the config) prices it; an id the catalog does not know is served *unpriced*
  (its cost is unknown, never $0) and without capability checks, which need the entry;
- each id gets its own deployment name (``<deployment>/<id>``), so that a made-up id failing
  upstream opens the circuit breaker of that id only, not of the whole family.

Patterns are tried in config order; ``fnmatchcase`` rules (``*``, ``?``, ``[...]``), case
sensitive as model ids are. What a name resolves to is kept in a small bounded cache, so the
match runs once per id, not once per request.
"""

from __future__ import annotations

import dataclasses
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from tiergate.catalog import CAPABILITIES, ModelInfo
from tiergate.providers.base import Deployment

# Distinct ids remembered at once (client-chosen names must not grow memory without bound).
CACHE_SIZE = 1024
# Model ids are short printable names; anything else is not forwarded upstream.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")
# Context assumed for an id the catalog does not know: no size check is made for it.
UNKNOWN_CONTEXT = 10_000_000


def is_pattern(model: str) -> bool:
    return any(c in model for c in "*?[")


@dataclass(frozen=True, slots=True)
class Family:
    pattern: str
    deployment: Deployment  # ``model_id`` is the pattern; ``upstream_model`` "" = as requested


@dataclass(frozen=True, slots=True)
class Served:
    """A requested id served by a family: the model (the catalog's entry, or an unpriced
    stand-in when ``known`` is False) and the deployment that answers it."""

    model: ModelInfo
    deployment: Deployment
    pattern: str
    known: bool


class ModelFamilies:
    """The family deployments of a config, in order."""

    def __init__(self, families: Iterable[Family]) -> None:
        self._families = tuple(families)
        self._cache: OrderedDict[str, Served | None] = OrderedDict()

    def __bool__(self) -> bool:
        return bool(self._families)

    @property
    def patterns(self) -> tuple[str, ...]:
        return tuple(f.pattern for f in self._families)

    def serve(self, name: str, entry: ModelInfo | None) -> Served | None:
        """The family that serves ``name`` (``entry``: the catalog's entry for it, if any; the
        catalog is fixed for the gateway's life, so the answer depends on ``name`` alone)."""
        cache = self._cache
        if name in cache:
            cache.move_to_end(name)
            return cache[name]
        served = self._match(name, entry)
        cache[name] = served
        if len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
        return served

    def _match(self, name: str, entry: ModelInfo | None) -> Served | None:
        if not _ID.match(name):
            return None
        for family in self._families:
            if not fnmatchcase(name, family.pattern):
                continue
            template = family.deployment
            model = entry or _unknown(name, template.provider)
            deployment = dataclasses.replace(
                template,
                name=f"{template.name}/{name}",
                model_id=model.id,
                upstream_model=template.upstream_model or name,
            )
            return Served(model, deployment, family.pattern, known=entry is not None)
        return None


def _unknown(name: str, provider: str) -> ModelInfo:
    """A model the catalog has never seen: unpriced, and assumed able to take what it is
    sent (the upstream is the one that knows)."""
    return ModelInfo(
        id=name,
        provider=provider,
        context_window=UNKNOWN_CONTEXT,
        max_output=UNKNOWN_CONTEXT,
        capabilities=CAPABILITIES,
        pricing=None,
    )
