"""Builds the named routes (policies selected by the requested model name) from config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tiergate.catalog import Catalog
from tiergate.providers.base import Deployment
from tiergate.routing.plan import Policy


def build_policies(
    routes: Mapping[str, Mapping[str, Any]],
    catalog: Catalog,
    deployments: Mapping[str, tuple[Deployment, ...]],
) -> dict[str, Policy]:
    policies: dict[str, Policy] = {}
    return policies
