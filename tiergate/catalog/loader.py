"""Loads the built-in catalog data file plus the user's overrides into a ``Catalog``.

Loading happens once at start-up; every error is a ``ConfigError`` that names where the entry
came from, the model and the field, so a typo in a price is fixed from the message alone.
Lookups afterwards are one dict access: ``resolve`` runs on every request.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from functools import cache
from importlib.resources import files
from typing import Any

import yaml
from pydantic import ValidationError

from tiergate.catalog.models import ModelInfo
from tiergate.config import problem
from tiergate.config.models import ModelEntry, ModelSpec
from tiergate.errors import ConfigError, Loc, NotFound, key_path

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
                    key = "aliases" if name in model.aliases else "snapshot"
                    key = "id" if name == model.id else key
                    # A user's entry: the key path says where; a built-in one: the message.
                    where = (*where, key) if where else ()
                    said = "" if where else f"built-in catalog ({DATA_FILE}): {key}: "
                    raise ConfigError(
                        f"{said}model {model.id!r}: name {name!r} is already used by model "
                        f"{taken!r}; each id, alias and snapshot names one model",
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
def _builtin_specs() -> tuple[ModelSpec, ...]:
    text = files("tiergate.catalog").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return tuple(_builtin_spec(raw) for raw in yaml.safe_load(text)["models"])


def _builtin_spec(raw: dict[str, Any]) -> ModelSpec:
    try:
        return ModelSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{key_path(tuple(e['loc'])) or '(entry)'}: {problem(e, ModelSpec)}"
            for e in exc.errors()
        )
        name = raw.get("id")
        raise ConfigError(f"built-in catalog ({DATA_FILE}): model {name!r}: {problems}") from None


def load_catalog(entries: Sequence[ModelEntry] | None = None) -> Catalog:
    """Built-in models, then the settings' ``models:`` entries, in order: each laid over the
    model with its id so far (``ModelEntry.over``), or added as a new model."""
    specs: dict[str, ModelSpec] = {spec.id: spec for spec in _builtin_specs()}
    sources: dict[str, Loc] = {}
    for index, entry in enumerate(entries or ()):
        where: Loc = ("models", index)
        try:
            specs[entry.id] = entry.over(specs.get(entry.id))
        except ValidationError as exc:
            # Types were checked with the settings: what is left is a field a new model lacks.
            errors = exc.errors()
            missing = ", ".join(key_path(tuple(e["loc"])) for e in errors)
            raise ConfigError(
                f"model {entry.id!r} is not in the catalog, so its entry adds a model and "
                f"must give {missing} ({problem(errors[0], ModelSpec)})",
                (*where, *errors[0]["loc"]),
            ) from None
        sources[entry.id] = where
    return Catalog((ModelInfo.from_spec(spec) for spec in specs.values()), sources)
