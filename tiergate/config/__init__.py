"""Settings: one YAML file, validated once at start-up into frozen objects.

Precedence: command-line flag > config file > environment (``TIERGATE_*``) > built-in default.
``${VAR}`` / ``${VAR:-default}`` in any string value is replaced from the environment; a missing
variable without a default is an error naming the key, the line and the variable to set.
Validation errors name the bad key and its line in the file, because the person reading the
message is editing that file. Errors found later, while the gateway is built from the settings
(unknown models in routes, deployments without a URL, a new ``models:`` entry missing a
field, unknown models in ``credits:``), carry their key path (``ConfigError.loc``), and
``Settings.locate`` adds its line from the file's YAML tree.

With no file at all, the embedded default serves the local SmolLM2 model (no keys, no network),
plus Anthropic / OpenAI deployments for whichever of ``ANTHROPIC_API_KEY`` / ``OPENAI_API_KEY``
is set; with the Anthropic key, every other ``claude-*`` id goes to Anthropic too (a family
deployment, ``tiergate.providers.families``), so that a model newer than the catalog works.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator
from pydantic_core import ErrorDetails

from tiergate.config.credits import CreditsSpec
from tiergate.config.models import ModelEntry
from tiergate.config.routes import RouteSpec
from tiergate.errors import ConfigError, key_path

_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeploymentConfig(_Frozen):
    """One upstream that can serve one model: a wire format + base URL + key."""

    name: str
    # Catalog id or alias of the model this deployment serves, or a pattern (``claude-*``):
    # then it serves every matching id no other deployment serves (tiergate.providers.families).
    model: str
    provider: Literal["anthropic", "openai", "local"]
    base_url: str | None = None
    api_key: str | None = None
    # Forward the caller's own provider key (bring-your-own-key) instead of ``api_key``.
    byok: bool = False
    upstream_model: str | None = None  # the name the upstream knows the model by
    timeout: float = Field(default=120.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    # OpenAI wire only: the name of the output limit. OpenAI's API takes
    # ``max_completion_tokens`` (its reasoning models refuse ``max_tokens``); some older
    # OpenAI-compatible servers know only ``max_tokens``.
    max_tokens_field: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens"
    # Batch jobs' items this deployment answers go through the provider's own batch API, at
    # its batch price (Anthropic's Message Batches, OpenAI's Batch API: half the price);
    # docs/batches.md.
    batch_api: bool = False


class LogConfig(_Frozen):
    bodies: bool = False
    batch_size: int = Field(default=500, gt=0)
    flush_interval: float = Field(default=0.2, gt=0)


class LimitsConfig(_Frozen):
    max_body_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_messages: int = Field(default=2000, gt=0)
    max_tools: int = Field(default=256, gt=0)
    max_stream_seconds: float = Field(default=600.0, gt=0)
    # Slow clients (``tiergate serve``'s HTTP protocol, server/protocol.py): a request's
    # headers must arrive within this long, and its body may not stall for longer.
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=30.0, gt=0)


class RetryConfig(_Frozen):
    max_retries: int = Field(default=2, ge=0)
    backoff_base: float = Field(default=0.25, ge=0)
    max_retry_after: float = Field(default=20.0, ge=0)
    breaker_failures: int = Field(default=5, gt=0)
    breaker_cooldown: float = Field(default=30.0, gt=0)


class BatchConfig(_Frozen):
    """Batch jobs (Anthropic's and OpenAI's batch APIs, docs/batches.md): how each replica
    works through them."""

    # Items one replica runs at once: batches fill idle capacity, they never crowd out
    # interactive traffic.
    concurrency: int = Field(default=4, gt=0)
    # A claimed item belongs to its replica this long, renewed every third of it while the
    # item runs: how long the items of a replica that died wait before another runs them.
    lease_seconds: float = Field(default=120.0, gt=0)
    # How often an idle replica looks for work queued by another (its own wake it at once).
    poll_seconds: float = Field(default=1.0, gt=0)
    # Tries per item when it fails in a way waiting can fix (an upstream 429 or 5xx after the
    # executor's own retries, the key's rate limit): the item waits (retry-after, else 30 s
    # doubling, at most 10 minutes) and runs again; after the last try its error is the result.
    max_tries: int = Field(default=5, gt=0)
    # Items not started this long after their job was created expire.
    expire_hours: float = Field(default=24.0, gt=0)
    # Ended jobs (their results) and uploaded files are deleted this long after creation.
    keep_days: float = Field(default=29.0, gt=0)
    max_requests: int = Field(default=100_000, gt=0)
    max_body_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    # Deployments with ``batch_api``: how often a replica looks at a batch it sent to the
    # provider (the provider takes minutes to hours), and the most requests sent in one.
    upstream_poll_seconds: float = Field(default=60.0, gt=0)
    upstream_max_requests: int = Field(default=10_000, gt=0, le=100_000)


class ReportsConfig(_Frozen):
    """Bounds on reports (``/v1/tiergate/report``, the dashboard): they run on connections of
    their own, and no tenant's reports may take the gateway's time from others' requests."""

    # A report query running longer is stopped (504); one returning more rows is refused
    # (422): the caller narrows the time range, tenant or route.
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_rows: int = Field(default=500_000, gt=0)
    # Per tenant and replica: reports running at once, and reports started per minute; past
    # either the caller gets a 429 with retry-after.
    per_tenant_concurrent: int = Field(default=1, gt=0)
    per_tenant_per_minute: int = Field(default=30, gt=0)


class ResponsesConfig(_Frozen):
    """Responses API answers kept for ``previous_response_id`` (docs/responses-api.md)."""

    # Kept this long after the answer; older ones read as unknown and are deleted.
    keep_days: float = Field(default=30.0, gt=0)


class HealthConfig(_Frozen):
    """``GET /health`` (tiergate/gateway/health.py): how long it waits for the store, and how
    long one answer is reused, so that frequent polling costs the database one query a second."""

    timeout_seconds: float = Field(default=1.0, gt=0)
    cache_seconds: float = Field(default=1.0, ge=0)


class Settings(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    database_url: str | None = None
    data_dir: str | None = None
    admin_key: str | None = None
    # Run open (no virtual key yet: no authentication) on a non-loopback address too. Off:
    # open mode answers only on loopback (docs/security.md).
    allow_open_remote: bool = False
    # A secret a metrics scraper sends (``Authorization: Bearer``) to read ``/metrics`` once
    # keys exist; the admin key reads it too.
    metrics_token: str | None = None
    # Catalog entries to add or change (config/models.py); laid over the catalog by
    # ``catalog.load_catalog``.
    models: list[ModelEntry] = Field(default_factory=list)
    deployments: list[DeploymentConfig] = Field(default_factory=list)
    # Validated here, so a bad route or credit plan names its key path and line at load.
    routes: dict[str, RouteSpec] = Field(default_factory=dict)
    credits: CreditsSpec | None = None
    baseline_model: str | None = "claude-sonnet-4-6"
    # Place Anthropic prompt-cache breakpoints on the stable prefix automatically.
    auto_cache: bool = True
    log: LogConfig = Field(default_factory=LogConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    responses: ResponsesConfig = Field(default_factory=ResponsesConfig)
    # Passed through to upstreams when the client sends them (Anthropic beta features, the API
    # version the client was written for); ``anthropic-*`` headers go to Anthropic upstreams only.
    forward_headers: tuple[str, ...] = ("anthropic-beta", "anthropic-version")
    # The file these settings came from and its YAML tree: errors found later, while the
    # gateway is built from them (routes, deployments, models, credits), can name the line.
    _source: tuple[str, yaml.Node] | None = PrivateAttr(default=None)

    def locate(self, error: ConfigError) -> ConfigError:
        """``error`` with the file and the line of its key (``error.loc``); unchanged when
        the error names no key or the settings came from no file."""
        if self._source is None or not error.loc:
            return error
        name, root = self._source
        where = f"{key_path(error.loc)}{_line(root, error.loc)}"
        return ConfigError(f"{name}: {where}: {error.problem}")

    @field_validator("deployments")
    @classmethod
    def _unique_names(cls, value: list[DeploymentConfig]) -> list[DeploymentConfig]:
        seen: set[str] = set()
        for deployment in value:
            if deployment.name in seen:
                raise ValueError(f"deployment name {deployment.name!r} is used twice")
            seen.add(deployment.name)
        return value


def default_deployments(env: Mapping[str, str]) -> list[DeploymentConfig]:
    """The embedded default: local SmolLM2, plus cloud providers whose key is in ``env``."""
    deployments = [DeploymentConfig(name="local", model="local/smollm2-135m", provider="local")]
    if env.get("ANTHROPIC_API_KEY"):
        for model in ("claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7", "claude-*"):
            deployments.append(
                DeploymentConfig(
                    name=f"anthropic/{model}" if model != "claude-*" else "anthropic",
                    model=model,
                    provider="anthropic",
                    base_url=env.get("ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
                    api_key=env["ANTHROPIC_API_KEY"],
                )
            )
    if env.get("OPENAI_API_KEY"):
        deployments.append(
            DeploymentConfig(
                name="openai/gpt-5.4",
                model="gpt-5.4",
                provider="openai",
                base_url=env.get("OPENAI_BASE_URL", "https://api.openai.com/v1"),
                api_key=env["OPENAI_API_KEY"],
            )
        )
    return deployments


def default_auto_route(deployments: list[DeploymentConfig]) -> dict[str, Any]:
    """``auto`` over the embedded default's deployments, cheapest first: the local model alone
    when no cloud key is set; with keys, the cheapest cloud model answers, and requests a small
    model does poorly (images; tools with a long prompt) go to a stronger one. The local
    model is not a cloud route's default: it is a 135M-parameter model, there for trying
    tiergate without keys, not for production answers."""
    served = {d.model for d in deployments}
    cheap = next((m for m in ("claude-haiku-4-5", "gpt-5.4") if m in served), None)
    if cheap is None:
        return {"default": "local/smollm2-135m"}
    strong = next((m for m in ("claude-sonnet-4-6", "gpt-5.4") if m in served), cheap)
    rules: list[dict[str, Any]] = []
    if strong != cheap:
        rules = [
            {"when": {"has_images": True}, "use": strong},
            {"when": {"has_tools": True, "min_prompt_tokens": 2000}, "use": strong},
        ]
    return {"rules": rules, "default": cheap}


def load_settings(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the frozen settings. ``overrides`` are command-line flags (highest precedence)."""
    env = os.environ if env is None else env
    path = path or env.get("TIERGATE_CONFIG") or None
    raw: dict[str, Any] = {}
    root: yaml.Node | None = None
    if path is not None:
        text = _read(Path(path))
        raw, root = _parse_yaml(text, str(path))
        raw = _substitute_env(raw, env, root, str(path), ())
    if env.get("TIERGATE_DATABASE_URL") and "database_url" not in raw:
        raw["database_url"] = env["TIERGATE_DATABASE_URL"]
    if env.get("TIERGATE_DATA_DIR") and "data_dir" not in raw:
        raw["data_dir"] = env["TIERGATE_DATA_DIR"]
    if env.get("TIERGATE_ADMIN_KEY") and "admin_key" not in raw:
        raw["admin_key"] = env["TIERGATE_ADMIN_KEY"]
    if env.get("TIERGATE_METRICS_TOKEN") and "metrics_token" not in raw:
        raw["metrics_token"] = env["TIERGATE_METRICS_TOKEN"]
    if env.get("TIERGATE_ALLOW_OPEN_REMOTE") and "allow_open_remote" not in raw:
        raw["allow_open_remote"] = env["TIERGATE_ALLOW_OPEN_REMOTE"]
    for key, value in (overrides or {}).items():
        if value is not None:
            raw[key] = value
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, root, str(path) if path else "<settings>")) from None
    if not settings.deployments:
        deployments = default_deployments(env)
        update: dict[str, Any] = {"deployments": deployments}
        if "auto" not in settings.routes:
            auto = RouteSpec.model_validate(default_auto_route(deployments))
            update["routes"] = {**settings.routes, "auto": auto}
        settings = settings.model_copy(update=update)
    if path is not None and root is not None:
        settings._source = (str(path), root)
    return settings


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {path} is not UTF-8 (line {line}, byte {exc.start}); save it as UTF-8"
        ) from None


def _parse_yaml(text: str, name: str) -> tuple[dict[str, Any], yaml.Node | None]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: not valid YAML: {exc}") from None
    if data is None:
        return {}, root
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: the top level must be a mapping of settings")
    return data, root


def _key_at(root: yaml.Node | None, loc: tuple[Any, ...]) -> yaml.Node | None:
    """The node that starts the entry at ``loc``: the key of a mapping entry (its value may
    start on the next line), the item of a list; None when the file has no such entry."""
    node, mark = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            mark, node = next(((k, v) for k, v in node.value if k.value == part), (None, None))
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = mark = node.value[part] if part < len(node.value) else None
        else:  # past the file's tree (a union's tag): the entry found so far
            return mark
        if node is None:
            return None
    return mark


def _line(root: yaml.Node | None, loc: tuple[Any, ...]) -> str:
    # Walk back up the path until some ancestor exists in the file (a missing key has no line).
    for end in range(len(loc), -1, -1):
        node = _key_at(root, loc[:end])
        if node is not None:
            return f" (line {node.start_mark.line + 1})"
    return ""


def _describe(exc: ValidationError, root: yaml.Node | None, name: str) -> str:
    lines = [f"{name}: invalid configuration"]
    for error in exc.errors():
        loc = tuple(error["loc"])
        key = key_path(loc) or "(top level)"
        lines.append(f"  {key}{_line(root, loc)}: {problem(error)}")
    return "\n".join(lines)


def problem(error: ErrorDetails, root: type[BaseModel] | None = None) -> str:
    """One validation error's message; an unknown key names the valid ones (and the closest).
    ``root`` is the model the error's ``loc`` starts from (the whole settings by default)."""
    if error["type"] == "extra_forbidden":
        return unknown_key_message(tuple(error["loc"]), root)
    return str(error["msg"]).removeprefix("Value error, ")


def unknown_key_message(loc: tuple[Any, ...], root: type[BaseModel] | None = None) -> str:
    """For a key no setting has: the closest valid keys at that place, and all of them, since
    a typo is the usual cause and the valid list is what the person needs next. ``root`` is
    the model ``loc`` starts from (the whole settings by default)."""
    valid = _valid_keys(loc[:-1], root or Settings)
    if not valid:
        return "unknown key"
    close = difflib.get_close_matches(str(loc[-1]), valid, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else "."
    return f"unknown key{hint} Valid keys here: {', '.join(valid)}"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (through lists, unions, ``Annotated``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def _valid_keys(parent: tuple[Any, ...], root: type[BaseModel]) -> list[str]:
    """The field names of the model at ``parent``: list indexes and the names a mapping
    setting is keyed by (``routes.auto``) are skipped, and a union's tag
    (``validators.0.one_of``) picks the member whose ``type`` it is."""
    models = [root]
    named = False  # the next part is a name the user chose (a route's), not a field
    for part in parent:
        if isinstance(part, int) or named:
            named = False
            continue
        fields = [m.model_fields[part] for m in models if part in m.model_fields]
        if fields:
            models = [m for f in fields for m in _models_in(f.annotation)]
            named = any(_is_mapping(f.annotation) for f in fields)
        else:
            models = [m for m in models if str(part) in _tags(m)]
        if not models:
            return []
    return sorted({name for m in models for name in m.model_fields}) if len(models) == 1 else []


def _is_mapping(annotation: Any) -> bool:
    if get_origin(annotation) is dict:
        return True
    return any(_is_mapping(arg) for arg in get_args(annotation))


def _tags(model: type[BaseModel]) -> tuple[str, ...]:
    field = model.model_fields.get("type")
    return tuple(str(a) for a in getattr(field.annotation, "__args__", ())) if field else ()


def _substitute_env(
    value: Any, env: Mapping[str, str], root: yaml.Node | None, name: str, loc: tuple[Any, ...]
) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            var, default = match.group(1), match.group(2)
            if default is not None:  # ${VAR:-default}: as in the shell, empty counts as unset
                return env.get(var) or default
            if var in env:
                return env[var]
            key = key_path(loc)
            raise ConfigError(
                f"{name}: {key}{_line(root, loc)} uses ${{{var}}}, which is not set; "
                f"export {var}=... or write ${{{var}:-default}}"
            )

        return _ENV_PATTERN.sub(replace, value)
    if isinstance(value, dict):
        return {k: _substitute_env(v, env, root, name, (*loc, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_env(v, env, root, name, (*loc, i)) for i, v in enumerate(value)]
    return value
