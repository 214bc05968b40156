"""Who is calling: virtual keys, the admin key, and open mode.

Clients send their key the way their SDK does: ``Authorization: Bearer`` (OpenAI, and the
Anthropic SDK too) or ``x-api-key``. With no virtual key ever created in the store the gateway runs
open — every caller is tenant ``default`` — and refuses to start on a non-loopback address
(see ``App.startup``). Error messages never repeat the key that was sent.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field

from tiergate.errors import AuthenticationFailed, PermissionDenied
from tiergate.tenancy.keys import KeyInfo, KeyStore


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


class Authenticator:
    def __init__(self, keys: KeyStore | None, admin_key: str | None) -> None:
        self._keys = keys
        self._admin_key = admin_key
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
        return bool(self._admin_key and secret and hmac.compare_digest(secret, self._admin_key))

    async def authenticate(self, headers: dict[str, str]) -> Principal:
        secret = presented_key(headers)
        if self.is_admin(secret):
            return ADMIN
        if await self.is_open():
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
        principal = Principal.of_key(info)
        if len(self._principals) > 10_000:
            self._principals.clear()
        self._principals[info.id] = (info, principal)
        return principal
