"""The dashboard's endpoints beyond the report: the page's static files, spend and mix over
time (``/v1/tiergate/timeseries``) and the requests behind a figure
(``/v1/tiergate/requests``). Both read the log like a report: tenant-scoped by the caller's
key, and admitted by the same per-tenant bounds, so a dashboard left open cannot crowd out
anyone's traffic."""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import TYPE_CHECKING

from tiergate.errors import InvalidRequest
from tiergate.server.query import page_limit, query_params
from tiergate.server.responses import Send, send_bytes, send_json

if TYPE_CHECKING:
    from tiergate.gateway.auth import Principal
    from tiergate.gateway.gateway import Gateway
    from tiergate.server.routes import Call
    from tiergate.store.backend import Store
    from tiergate.store.reports import ReportFilter

# The charting library (uPlot, MIT, vendored: the dashboard loads nothing from elsewhere).
ASSETS = {
    "/dashboard/uplot.min.js": ("uplot.min.js", "text/javascript; charset=utf-8"),
    "/dashboard/uplot.min.css": ("uplot.min.css", "text/css; charset=utf-8"),
}


@functools.cache
def _asset(name: str) -> bytes:
    return files("tiergate.server").joinpath(f"static/{name}").read_bytes()


async def asset(path: str, send: Send) -> None:
    name, content_type = ASSETS[path]
    headers = {"cache-control": "public, max-age=3600"}
    await send_bytes(
        send, 200, _asset(name), headers, content_type=(b"content-type", content_type.encode())
    )


def _filters(principal: Principal, query: dict[str, str]) -> ReportFilter:
    from tiergate.store.reports import ReportFilter

    query["tenant"] = principal.report_tenant(query.get("tenant") or None) or ""
    try:
        return ReportFilter.from_query(query)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None


async def timeseries_data(gateway: Gateway, call: Call) -> None:
    """Spend and mix over time, in buckets."""
    from tiergate.store.timeseries import timeseries

    store, query, filters = _log_query(gateway, call)
    bucket = query.get("bucket") or None
    with gateway.reports.enter(call.principal.tenant):
        await gateway.log.flush()
        try:
            data = await timeseries(store, filters, bucket)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
    await send_json(call.send, 200, data)


async def request_list(gateway: Gateway, call: Call) -> None:
    """The requests behind a figure, a page at a time."""
    from tiergate.store.request_list import RequestQuery, list_requests

    store, query, filters = _log_query(gateway, call)
    try:
        request_query = RequestQuery.from_query(query, filters, page_limit(query, 50, 500))
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    with gateway.reports.enter(call.principal.tenant):
        await gateway.log.flush()
        try:
            data = await list_requests(store, request_query)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
    await send_json(call.send, 200, data)


def _log_query(gateway: Gateway, call: Call) -> tuple[Store, dict[str, str], ReportFilter]:
    query = query_params(call.scope)
    return gateway.store, query, _filters(call.principal, query)
