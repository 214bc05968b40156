"""Deployments by model, and providers by kind, built once at start-up.

Provider objects are created lazily on first use (principle 6): a gateway configured only for
cloud models never imports llama.cpp, and the local model's weights load on its first request.
"""

from __future__ import annotations

from collections.abc import Iterable

from tiergate.catalog import Catalog
from tiergate.config import DeploymentConfig
from tiergate.errors import ConfigError, Loc
from tiergate.providers.base import Deployment, Provider
from tiergate.providers.families import Family, ModelFamilies, is_pattern
from tiergate.providers.transport import UpstreamSession


def build_deployments(
    configs: Iterable[DeploymentConfig], catalog: Catalog
) -> dict[str, list[Deployment]]:
    """Deployments grouped by the canonical id of the model they serve, in config order.
    Family deployments (a pattern for ``model``) are left to ``build_families``."""
    by_model: dict[str, list[Deployment]] = {}
    for index, config in enumerate(configs):
        where: Loc = ("deployments", index)
        if is_pattern(config.model):
            continue
        model = catalog.get(config.model)
        if model is None:
            raise ConfigError(
                f"deployment {config.name!r} serves model {config.model!r}, "
                "which is not in the catalog; add it under `models:` in the config file",
                (*where, "model"),
            )
        _check_upstream(config, where)
        if config.batch_api and (config.provider == "local" or config.byok):
            raise ConfigError(
                f"deployment {config.name!r}: only Anthropic and OpenAI "
                "deployments with their own api_key can send batch jobs through the "
                "provider's batch API",
                (*where, "batch_api"),
            )
        upstream_model = config.upstream_model or model.snapshot or model.id
        deployment = _deployment(config, model.id, upstream_model)
        by_model.setdefault(model.id, []).append(deployment)
    return by_model


def _deployment(config: DeploymentConfig, model_id: str, upstream_model: str) -> Deployment:
    """The deployment a config row describes, serving ``model_id`` (a catalog id, or a
    family's pattern) as ``upstream_model``."""
    return Deployment(
        name=config.name,
        model_id=model_id,
        provider=config.provider,
        upstream_model=upstream_model,
        base_url=config.base_url,
        api_key=config.api_key,
        byok=config.byok,
        timeout=config.timeout,
        headers=dict(config.headers),
        max_tokens_field=config.max_tokens_field,
        batch_api=config.batch_api,
    )


def _check_upstream(config: DeploymentConfig, where: Loc) -> None:
    if config.provider != "local" and not config.base_url:
        raise ConfigError(f"deployment {config.name!r} needs a base_url", where)
    if config.provider != "local" and not config.byok and not config.api_key:
        raise ConfigError(
            f"deployment {config.name!r} has no api_key; set api_key: ${{ENV_VAR}} "
            "in the config file, or byok: true to forward each caller's own key",
            where,
        )


def build_families(configs: Iterable[DeploymentConfig]) -> ModelFamilies:
    """The family deployments (``model: claude-*``), in config order."""
    families: list[Family] = []
    for index, config in enumerate(configs):
        if not is_pattern(config.model):
            continue
        where: Loc = ("deployments", index)
        if config.provider == "local":
            raise ConfigError(
                f"deployment {config.name!r}: a model pattern needs an "
                "anthropic or openai deployment (the local model is one model)",
                (*where, "model"),
            )
        if config.batch_api:
            raise ConfigError(
                f"deployment {config.name!r}: a deployment serving a model "
                "pattern cannot send batch jobs through the provider's batch API",
                (*where, "batch_api"),
            )
        _check_upstream(config, where)
        deployment = _deployment(config, config.model, config.upstream_model or "")  # "": as asked
        families.append(Family(config.model, deployment))
    return ModelFamilies(families)


class ProviderRegistry:
    """Creates one provider per kind on first use and shares one pooled HTTP session."""

    def __init__(self, session: UpstreamSession | None = None) -> None:
        self._session = session or UpstreamSession()
        self._providers: dict[str, Provider] = {}

    @property
    def session(self) -> UpstreamSession:
        """The pooled HTTP session every upstream call shares (provider batch calls too)."""
        return self._session

    def get(self, kind: str) -> Provider:
        provider = self._providers.get(kind)
        if provider is None:
            provider = self._providers[kind] = self._create(kind)
        return provider

    def _create(self, kind: str) -> Provider:
        from tiergate.providers.http import HTTPProvider

        if kind == "anthropic":
            from tiergate.wire.anthropic import FORMAT as ANTHROPIC

            return HTTPProvider(ANTHROPIC, self._session)
        if kind == "openai":
            from tiergate.wire.openai import FORMAT as OPENAI

            return HTTPProvider(OPENAI, self._session)
        if kind == "local":
            from tiergate.providers.local_provider import LocalProvider

            return LocalProvider()
        raise ConfigError(f"unknown provider kind {kind!r}")

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        await self._session.aclose()
