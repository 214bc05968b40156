"""Loads the built-in catalog data file plus the user's overrides into a ``Catalog``.

Loading happens once at start-up; every error is a ``ConfigError`` that names where the entry
came from, the model and the field, so a typo in a price is fixed from the message alone.
Lookups afterwards are one dict access: ``resolve`` runs on every request.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from typing import Any

import yaml
from pydantic import ValidationError

from tiergate.catalog.models import CAPABILITIES, ModelInfo, ModelSpec
from tiergate.errors import ConfigError, Loc, NotFound

DATA_FILE = "models.yaml"
# A dated snapshot id: the model's id plus ``-YYYYMMDD`` (``claude-opus-4-7-20260415``).
_DATED = re.compile(r"^(.+)-(20\d{6})$")


class Catalog:
    """Models by id, alias and pinned snapshot; every lookup is one dict access."""

    __slots__ = ("_models", "_names")

    def __init__(self, models: Iterable[ModelInfo], sources: dict[str, Loc] | None = None) -> None:
        self._models: dict[str, ModelInfo] = {}
        for model in models:
            self._models[model.id] = model
        self._names: dict[str, ModelInfo] = {}
        owner: dict[str, str] = {}
        for model in self._models.values():
            for name in (model.id, model.snapshot, *model.aliases):
                if not name:
                    continue
                taken = owner.get(name)
                if taken is not None and taken != model.id:
                    where = (sources or {}).get(model.id, ())
                    raise ConfigError(
                        f"{_entry(where)}model {model.id!r}: aliases: name {name!r} is already "
                        f"used by model {taken!r}; each id, alias and snapshot names one model",
                        where,
                    )
                owner[name] = model.id
                self._names[name] = model

    def get(self, name: str) -> ModelInfo | None:
        """The entry ``name`` names: an id, alias or snapshot, or a dated snapshot id of a
        known model (its id plus ``-YYYYMMDD``), which resolves to that model's entry."""
        model = self._names.get(name)
        if model is None and (dated := _DATED.match(name)) is not None:
            model = self._names.get(dated.group(1))
        return model

    def resolve(self, name: str) -> ModelInfo:
        model = self.get(name)
        if model is not None:
            return model
        close = difflib.get_close_matches(name, list(self._names), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise NotFound(f"unknown model {name!r}{hint}", param="model")

    def models(self) -> list[ModelInfo]:
        return list(self._models.values())

    def names(self) -> list[str]:
        """Every name ``resolve`` accepts (ids, aliases, snapshots)."""
        return list(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __len__(self) -> int:
        return len(self._models)


@cache
def _builtin_specs() -> tuple[dict[str, Any], ...]:
    text = files("tiergate.catalog").joinpath(DATA_FILE).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return tuple(data["models"])


def _entry(where: Loc) -> str:
    """How a message names an entry without a key path: one of the built-in catalog's."""
    return "" if where else f"built-in catalog ({DATA_FILE}): "


def _spec(raw: dict[str, Any], where: Loc) -> ModelSpec:
    name = raw.get("id", "?")
    try:
        spec = ModelSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(entry)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{_entry(where)}model {name!r}: {problems}", where) from None
    unknown = spec.capabilities - CAPABILITIES
    if unknown:
        raise ConfigError(
            f"{_entry(where)}model {spec.id!r}: capabilities: unknown {sorted(unknown)}; "
            f"known: {sorted(CAPABILITIES)}",
            where,
        )
    return spec


def load_catalog(overrides: list[dict[str, Any]] | None = None) -> Catalog:
    """Built-in models, then the user's entries, in order.

    An entry whose ``id`` already exists replaces the top-level fields it gives, so a price can
    be changed without restating the model (``pricing`` is replaced whole, never mixed with the
    old table). An entry with a new ``id`` adds a model and must give every required field.
    """
    by_id: dict[str, dict[str, Any]] = {m["id"]: dict(m) for m in _builtin_specs()}
    source: dict[str, Loc] = dict.fromkeys(by_id, ())
    for index, raw in enumerate(overrides or []):
        if not isinstance(raw, dict):
            raise ConfigError("each entry must be a mapping with an id", ("models", index))
        model_id = raw.get("id")
        if not isinstance(model_id, str) or not model_id:
            raise ConfigError("each entry needs a model id", ("models", index, "id"))
        by_id[model_id] = {**by_id.get(model_id, {}), **raw}
        source[model_id] = ("models", index)
    specs = [_spec(raw, source[model_id]) for model_id, raw in by_id.items()]
    return Catalog((ModelInfo.from_spec(spec) for spec in specs), source)
