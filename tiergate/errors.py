"""The exception tree, and the one place upstream failures are classified.

    TiergateError                       every error tiergate raises on purpose
    ├── ConfigError                     bad config file / missing key (raised at start-up)
    └── GatewayError                    anything that ends a request; carries ``status`` + ``kind``
        ├── InvalidRequest        400   malformed JSON, missing / wrong-typed field
        ├── AuthenticationFailed  401   missing, wrong, revoked or expired key
        ├── PermissionDenied      403   model or route outside the key's allowance
        ├── NotFound              404   unknown model, route or path
        ├── PayloadTooLarge       413   body, message count or tool count over the limit
        ├── ReportTooCostly  422 / 504  a report over its row or time bound: narrow it
        ├── RateLimited           429   over rate limit or budget (``retry_after`` seconds)
        ├── InternalError         500   a bug in tiergate; the message never carries details
        ├── StoreUnavailable      503   the database is unreachable (``retry_after`` seconds)
        └── ProviderError        (any)  an upstream failed: keeps its ``status``, ``provider``,
                                        ``retryable`` and ``retry_after``. Timeouts and
                                        connection failures have status 502/504 and are
                                        retryable.

``kind`` is a format-neutral error name; each wire format maps it to its own error ``type``
string and the status, so that the caller's official SDK raises its matching exception
(``openai.RateLimitError``, ``anthropic.OverloadedError`` for 529, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

ErrorKind = str  # one of the KIND_* constants below

KIND_INVALID_REQUEST = "invalid_request_error"
KIND_AUTHENTICATION = "authentication_error"
KIND_PERMISSION = "permission_error"
KIND_NOT_FOUND = "not_found_error"
KIND_TOO_LARGE = "request_too_large"
KIND_RATE_LIMIT = "rate_limit_error"
KIND_API = "api_error"
KIND_OVERLOADED = "overloaded_error"
KIND_TIMEOUT = "timeout_error"

# The kind implied by an HTTP status, for upstream errors whose body does not say.
KIND_BY_STATUS: dict[int, ErrorKind] = {
    400: KIND_INVALID_REQUEST,
    401: KIND_AUTHENTICATION,
    402: KIND_RATE_LIMIT,
    403: KIND_PERMISSION,
    404: KIND_NOT_FOUND,
    408: KIND_TIMEOUT,
    413: KIND_TOO_LARGE,
    422: KIND_INVALID_REQUEST,
    429: KIND_RATE_LIMIT,
    500: KIND_API,
    502: KIND_API,
    503: KIND_OVERLOADED,
    504: KIND_TIMEOUT,
    529: KIND_OVERLOADED,
}

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


class TiergateError(Exception):
    """Base of every error tiergate raises on purpose."""


Loc = tuple[str | int, ...]


def key_path(loc: Sequence[str | int]) -> str:
    """A key's location in the config file as the YAML path a person reads:
    ``routes.auto.rules[0].when.task``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).removeprefix(".")


class ConfigError(TiergateError):
    """The configuration cannot be used; the message says which key and how to fix it.

    ``loc`` is that key's path (``("routes", "auto", "ladder", 1)``), kept structured so the
    line in the file is looked up from it (``Settings.locate``), never parsed from the text."""

    def __init__(self, message: str, loc: Sequence[str | int] = ()) -> None:
        self.loc: Loc = tuple(loc)
        self.problem = message
        super().__init__(f"{key_path(self.loc)}: {message}" if self.loc else message)


class GatewayError(TiergateError):
    status: int = 500
    kind: ErrorKind = KIND_API

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        kind: ErrorKind | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if kind is not None:
            self.kind = kind
        self.param = param
        self.retry_after = retry_after


class InvalidRequest(GatewayError):
    status = 400
    kind = KIND_INVALID_REQUEST


class AuthenticationFailed(GatewayError):
    status = 401
    kind = KIND_AUTHENTICATION


class PermissionDenied(GatewayError):
    status = 403
    kind = KIND_PERMISSION


class NotFound(GatewayError):
    status = 404
    kind = KIND_NOT_FOUND


class PayloadTooLarge(GatewayError):
    status = 413
    kind = KIND_TOO_LARGE


class ReportTooCostly(GatewayError):
    """A report query returned more rows than allowed (422), or ran out of time (504)."""

    status = 422
    kind = KIND_INVALID_REQUEST

    @classmethod
    def rows(cls, limit: int) -> ReportTooCostly:
        return cls(
            f"the report has more than {limit} rows; narrow it with since, until, tenant or route"
        )

    @classmethod
    def time(cls, seconds: float) -> ReportTooCostly:
        return cls(
            f"the report took longer than {seconds:g} s and was stopped; narrow it with "
            "since, until, tenant or route",
            status=504,
            kind=KIND_TIMEOUT,
        )


class RateLimited(GatewayError):
    status = 429
    kind = KIND_RATE_LIMIT


class InternalError(GatewayError):
    status = 500
    kind = KIND_API


class StoreUnavailable(GatewayError):
    """The store (PostgreSQL) cannot be reached: answered at once, with a hint to retry soon,
    rather than after waiting for a connection that will not come."""

    status = 503
    kind = KIND_OVERLOADED


class ProviderError(GatewayError):
    """An upstream call failed. ``retryable`` says whether the same request may succeed later
    (or on another deployment); ``retry_after`` is the upstream's own hint in seconds;
    ``upstream_status`` the status the upstream sent (``status`` is the client's)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        provider: str,
        kind: ErrorKind | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        upstream_status: int | None = None,
    ) -> None:
        super().__init__(
            message,
            status=status,
            kind=kind
            or KIND_BY_STATUS.get(status, KIND_API if status >= 500 else KIND_INVALID_REQUEST),
            retry_after=retry_after,
        )
        self.provider = provider
        self.retryable = status in RETRYABLE_STATUSES if retryable is None else retryable
        # What the upstream answered, where the client is told another status (an upstream
        # 401 is the gateway's key refused, a 502 to the client): fail-over and the request
        # log go by this one.
        self.upstream_status = status if upstream_status is None else upstream_status


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``retry-after`` (or ``retry-after-ms``-converted) header; None if absent
    or not a number (HTTP-date forms are rare from LLM APIs and treated as absent)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
