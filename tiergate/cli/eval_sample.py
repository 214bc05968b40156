"""``tiergate eval sample``'s work: open the store ``serve`` uses and sample it."""

from __future__ import annotations

from typing import Any

import click

from tiergate.config import Settings


async def sample(
    settings: Settings,
    *,
    route: str,
    since: str,
    until: str | None,
    tenant: str | None,
    size: int,
    seed: int,
    with_reference: bool,
) -> tuple[list[dict[str, Any]], list[str]]:
    from tiergate.evaluation.offline.sampling import NoPromptsLogged, sample_requests
    from tiergate.store.backend import open_store
    from tiergate.store.location import store_url
    from tiergate.store.reports import ReportFilter

    if size < 1:
        raise click.BadParameter("at least 1", param_hint="--size")
    query = {
        k: v
        for k, v in {"since": since, "until": until, "tenant": tenant, "route": route}.items()
        if v
    }
    try:
        filters = ReportFilter.from_query(query)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    store = await open_store(store_url(settings.database_url, settings.data_dir))
    try:
        result = await sample_requests(
            store, filters, size, seed=seed, with_reference=with_reference
        )
    except NoPromptsLogged as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        await store.aclose()
    if not result.lines:
        raise click.ClickException(f"no logged requests of route {route!r} in the window")
    return result.lines, result.notes()
