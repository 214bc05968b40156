"""Loads the built-in catalog data file plus the user's overrides into a ``Catalog``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from importlib.resources import files
from typing import Any

import yaml
from pydantic import ValidationError

from tiergate.catalog.models import CAPABILITIES, ModelInfo, ModelSpec
from tiergate.errors import ConfigError, NotFound


class Catalog:
    """Models by id, alias and snapshot; every lookup is one dict access."""

    def __init__(self, models: Iterable[ModelInfo]) -> None:
        self._models: dict[str, ModelInfo] = {}
        self._names: dict[str, ModelInfo] = {}
        for model in models:
            self._models[model.id] = model
        for model in self._models.values():
            for name in (model.id, model.snapshot, *model.aliases):
                if name:
                    self._names[name] = model

    def get(self, name: str) -> ModelInfo | None:
        return self._names.get(name)

    def resolve(self, name: str) -> ModelInfo:
        model = self._names.get(name)
        if model is None:
            close = difflib.get_close_matches(name, list(self._names), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise NotFound(f"unknown model {name!r}{hint}", param="model")
        return model

    def models(self) -> list[ModelInfo]:
        return list(self._models.values())


def _builtin_specs() -> list[dict[str, Any]]:
    text = files("tiergate.catalog").joinpath("models.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    models: list[dict[str, Any]] = data["models"]
    return models


def _spec(raw: dict[str, Any], where: str) -> ModelSpec:
    try:
        spec = ModelSpec.model_validate(raw)
    except ValidationError as exc:
        name = raw.get("id", "?") if isinstance(raw, dict) else "?"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{where}: model {name!r}: {problems}") from None
    unknown = spec.capabilities - CAPABILITIES
    if unknown:
        raise ConfigError(
            f"{where}: model {spec.id!r}: unknown capabilities {sorted(unknown)}; "
            f"known: {sorted(CAPABILITIES)}"
        )
    return spec


def load_catalog(overrides: list[dict[str, Any]] | None = None) -> Catalog:
    """Built-in models, then the user's entries: an entry whose id exists replaces the fields
    it gives (so a price can be changed without restating the model); a new id is added."""
    by_id: dict[str, dict[str, Any]] = {m["id"]: m for m in _builtin_specs()}
    source = dict.fromkeys(by_id, "built-in catalog")
    for index, raw in enumerate(overrides or []):
        if not isinstance(raw, dict) or "id" not in raw:
            raise ConfigError(f"models[{index}]: each entry needs an id")
        by_id[raw["id"]] = {**by_id.get(raw["id"], {}), **raw}
        source[raw["id"]] = f"config models[{index}]"
    specs = [_spec(raw, source[model_id]) for model_id, raw in by_id.items()]
    return Catalog(ModelInfo.from_spec(spec) for spec in specs)
