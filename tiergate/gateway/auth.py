"""Who is calling: virtual keys, the admin key, and open mode.

Clients send their key the way their SDK does: ``Authorization: Bearer`` (OpenAI, and the
Anthropic SDK too) or ``x-api-key``. With no virtual key ever created in the store the gateway runs
open — every caller is tenant ``default`` — and only on loopback: it refuses to start on a
socket bound elsewhere (``App.startup``), and refuses every connection that reached it on a
non-loopback address, unless ``allow_open_remote`` says so. Error messages never repeat the
key that was sent.

Keys are compared as bytes: a header may carry any byte (it arrives decoded as Latin-1), and
the configured admin key may hold any character (it is compared as UTF-8).
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from dataclasses import dataclass, field
from functools import lru_cache

from tiergate.errors import AuthenticationFailed, PermissionDenied
from tiergate.tenancy.keys import TENANT_PATTERN, KeyInfo, KeyStore


@lru_cache(maxsize=256)
def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1`` (also IPv4-mapped), ``localhost``; a Unix socket's path too
    (only this machine can connect). Anything else, ``0.0.0.0`` and ``::`` included, is not."""
    if host == "localhost" or host.startswith("/") or not host:
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: str = "default"
    key: KeyInfo | None = None
    admin: bool = False
    allowed_models: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of_key(cls, info: KeyInfo) -> Principal:
        """The caller a virtual key stands for (``usable_key`` says whether it may call)."""
        return cls(info.tenant, info, False, info.allowed_models)

    @property
    def key_id(self) -> str | None:
        return self.key.id if self.key is not None else None

    def check_model(self, model: str) -> None:
        if self.allowed_models and model not in self.allowed_models:
            raise PermissionDenied(
                f"this key may not use model {model!r}; allowed: "
                f"{', '.join(sorted(self.allowed_models))}",
                param="model",
            )

    def report_tenant(self, requested: str | None) -> str | None:
        """The tenant whose logs this caller may read: its own, unless admin or open mode."""
        if self.admin or self.key is None:
            return requested
        if requested is not None and requested != self.tenant:
            raise PermissionDenied("a key can read only its own tenant's logs and reports")
        return self.tenant


OPEN = Principal()
ADMIN = Principal(tenant="*", admin=True)


def usable_key(info: KeyInfo) -> None:
    """Refuse (401) a key that is revoked or expired; checked on every use, not only at
    lookup, since a cached key expires in place."""
    if info.revoked_ms is not None or info.expires_ms is not None:
        problem = info.usable(int(time.time() * 1000))
        if problem is not None:
            raise AuthenticationFailed(problem)


def presented_key(headers: dict[str, str]) -> str | None:
    authorization = headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return headers.get("x-api-key") or None


def _same(secret: str | None, expected: bytes | None) -> bool:
    """Whether ``secret`` (a header value) is ``expected``, in constant time. Header values are
    Latin-1 decoded bytes: encoding them back gives the bytes sent, whatever they are."""
    if not expected or not secret:
        return False
    return hmac.compare_digest(secret.encode("latin-1", "replace"), expected)


def open_refused(host: str) -> PermissionDenied:
    return PermissionDenied(
        "this gateway has no API keys yet, so it runs open (no authentication) and answers "
        f"only on loopback, not on {host}; the operator must create a key "
        "(tiergate keys create --tenant NAME)"
    )


class Authenticator:
    def __init__(
        self,
        keys: KeyStore | None,
        admin_key: str | None,
        allow_open_remote: bool = False,
        metrics_token: str | None = None,
    ) -> None:
        self._keys = keys
        self._admin_key = admin_key.encode() if admin_key else None
        self._metrics_token = metrics_token.encode() if metrics_token else None
        self._allow_open_remote = allow_open_remote
        self._open = True
        # The Principal of each key as last looked up: one per key, not one per request.
        self._principals: dict[str, tuple[KeyInfo, Principal]] = {}

    async def is_open(self) -> bool:
        """Open only while no key has ever been created in the store. Checked on every request
        while open (an indexed count of an empty table), so a key made on another replica
        closes this one at once; once closed, never re-opened, not even by revoking every key."""
        if self._keys is None:
            return True
        if self._open:
            self._open = await self._keys.count_all() == 0
        return self._open

    def closed(self) -> None:
        """A key was just created here: stop running open at once."""
        self._open = False

    def is_admin(self, secret: str | None) -> bool:
        return _same(secret, self._admin_key)

    async def check_metrics(
        self, headers: dict[str, str], server: tuple[str, int | None] | None = None
    ) -> None:
        """``/metrics`` shows gateway-wide spend by model and route: once keys exist, only to
        the admin key or the configured ``metrics_token`` (a scraper's own secret); while the
        gateway runs open, to anyone who may call it."""
        secret = presented_key(headers)
        if self.is_admin(secret) or _same(secret, self._metrics_token):
            return
        if await self.is_open():
            if server is not None and not self._allow_open_remote and not is_loopback(server[0]):
                raise open_refused(server[0])
            return
        if not secret:
            raise AuthenticationFailed(
                "/metrics needs the admin key or the metrics token: send it as "
                "`Authorization: Bearer <token>`"
            )
        raise PermissionDenied("/metrics needs the admin key or the metrics token")

    async def authenticate(
        self, headers: dict[str, str], server: tuple[str, int | None] | None = None
    ) -> Principal:
        """Who sent ``headers``; ``server`` is the local address the connection reached (ASGI
        ``scope["server"]``): open mode answers only on a loopback one."""
        secret = presented_key(headers)
        if self.is_admin(secret):
            return ADMIN
        if await self.is_open():
            if server is not None and not self._allow_open_remote and not is_loopback(server[0]):
                raise open_refused(server[0])
            return OPEN
        if not secret:
            raise AuthenticationFailed(
                "missing API key: send it as `Authorization: Bearer <key>` or `x-api-key`"
            )
        info = await self._keys.lookup(secret) if self._keys is not None else None
        if info is None:
            raise AuthenticationFailed("invalid API key")
        usable_key(info)
        known = self._principals.get(info.id)
        if known is not None and known[0] is info:
            return known[1]
        if TENANT_PATTERN.fullmatch(info.tenant) is None:
            # Made before tenant names were checked (``""`` read as every tenant in reports).
            raise AuthenticationFailed(
                "this API key's tenant name is not valid; ask the operator for a new key"
            )
        principal = Principal.of_key(info)
        if len(self._principals) > 10_000:
            self._principals.clear()
        self._principals[info.id] = (info, principal)
        return principal
