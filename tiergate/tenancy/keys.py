"""Virtual keys: created, listed, rotated and revoked; stored hashed.

A key is ``tg-`` + 32 random bytes (URL-safe base64). Only its SHA-256 is stored: the secret
has 256 bits of entropy, so a slow password hash would add latency to every request without
adding safety. The secret is shown once, at creation or rotation.

Look-ups are cached in-process for ``cache_ttl`` seconds (2 s by default) so the hot path does
not hit the store on every request; a revocation through this process takes effect at once,
one made by another replica within ``cache_ttl``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from tiergate.store.backend import Store
from tiergate.store.records import from_nano, to_nano

PERIODS = ("day", "month", "total")


# Bounds of a key's limits, so every accepted value fits the store (BIGINT nano-USD) and means
# something: a budget up to a billion USD, rates up to a billion a minute, a life of a century.
MAX_BUDGET_USD = Decimal(10**9)
MAX_RATE = 10**9
MAX_EXPIRY_DAYS = 36_500


# A tenant name: one safe pattern wherever a name enters (the CLI, the admin API, a report's
# filter). Never empty and never ``*`` (the admin's own tenant): an empty name would read as
# "no filter" in a report, ``*`` would share the admin's batches and files.
TENANT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
TENANT_RULE = (
    "1 to 64 characters: letters, digits, '.', '_' and '-', starting with a letter or digit"
)


def check_tenant(value: object) -> str:
    """``value`` if it is a valid tenant name; ``ValueError`` saying the rule otherwise."""
    if not isinstance(value, str) or TENANT_PATTERN.fullmatch(value) is None:
        raise ValueError(f"a tenant name is {TENANT_RULE}")
    return value


def parse_budget(value: object) -> Decimal:
    """A budget in USD from a number or its text: finite, not negative, at most
    ``MAX_BUDGET_USD``; ``ValueError`` says what is wrong."""
    if isinstance(value, bool):
        raise ValueError("must be a number")
    try:
        budget = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not budget.is_finite():
        raise ValueError("must be a finite number")
    if budget < 0:
        raise ValueError("must not be negative")
    if budget > MAX_BUDGET_USD:
        raise ValueError(f"must be at most {MAX_BUDGET_USD} USD")
    return budget


def usd_text(amount: Decimal) -> str:
    """An amount as people write it: ``100``, ``0.5``, ``0.000000001`` (``str`` of a
    normalized Decimal gives ``1E+2``)."""
    text = format(amount, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _plain(amount: Decimal | None) -> Decimal | None:
    """``amount`` with an exponent that ``str`` shows plainly for whole amounts (``100``,
    not ``1E+2``), for the messages that quote a budget."""
    return None if amount is None else Decimal(usd_text(amount))


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return "tg-" + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    tenant: str
    name: str | None
    prefix: str
    allowed_models: frozenset[str]
    budget_usd: Decimal | None
    budget_period: str | None
    rpm: int | None
    tpm: int | None
    created_ms: int
    expires_ms: int | None
    revoked_ms: int | None

    def usable(self, now_ms: int) -> str | None:
        """None when the key may be used, else why not."""
        if self.revoked_ms is not None:
            return "this API key has been revoked"
        if self.expires_ms is not None and now_ms >= self.expires_ms:
            return "this API key has expired"
        return None

    def public(self) -> dict[str, Any]:
        """What the admin API shows: everything but the hash."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "name": self.name,
            "prefix": self.prefix,
            "models": sorted(self.allowed_models),
            "budget_usd": usd_text(self.budget_usd) if self.budget_usd is not None else None,
            "budget_period": self.budget_period,
            "rpm": self.rpm,
            "tpm": self.tpm,
            "created_ms": self.created_ms,
            "expires_ms": self.expires_ms,
            "revoked_ms": self.revoked_ms,
        }


_COLUMNS = (
    "id, tenant, name, prefix, allowed_models, budget_nusd, budget_period, rpm, tpm, "
    "created_ms, expires_ms, revoked_ms"
)


def _key(row: tuple[Any, ...]) -> KeyInfo:
    key_id, tenant, name, prefix, models, budget, period, rpm, tpm, created, expires, revoked = row
    return KeyInfo(
        id=key_id,
        tenant=tenant,
        name=name,
        prefix=prefix,
        allowed_models=frozenset(orjson.loads(models) if models else ()),
        budget_usd=_plain(from_nano(budget)),
        budget_period=period,
        rpm=rpm,
        tpm=tpm,
        created_ms=created,
        expires_ms=expires,
        revoked_ms=revoked,
    )


class KeyStore:
    def __init__(self, store: Store, cache_ttl: float = 2.0) -> None:
        self._store = store
        self._ttl = cache_ttl
        self._cache: dict[str, tuple[float, KeyInfo | None]] = {}

    async def create(
        self,
        tenant: str,
        *,
        name: str | None = None,
        models: list[str] | None = None,
        budget_usd: Decimal | None = None,
        budget_period: str | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        expires_ms: int | None = None,
    ) -> tuple[KeyInfo, str]:
        check_tenant(tenant)
        if budget_usd is not None and budget_period not in PERIODS:
            raise ValueError(f"budget_period must be one of {', '.join(PERIODS)}")
        secret = new_secret()
        key_id = "key_" + secrets.token_hex(8)
        row = (
            key_id,
            hash_key(secret),
            secret[:7],
            tenant,
            name,
            orjson.dumps(sorted(models)).decode() if models else None,
            to_nano(budget_usd),
            budget_period if budget_usd is not None else None,
            rpm,
            tpm,
            int(time.time() * 1000),
            expires_ms,
            None,
        )
        await self._store.execute(
            f"INSERT INTO virtual_keys (id, hash, prefix, tenant, name, allowed_models, "
            f"budget_nusd, budget_period, rpm, tpm, created_ms, expires_ms, revoked_ms) "
            f"VALUES ({', '.join('?' * 13)})",
            row,
        )
        info = await self.get(key_id)
        assert info is not None
        return info, secret

    async def get(self, key_id: str) -> KeyInfo | None:
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM virtual_keys WHERE id = ?", (key_id,)
        )
        return _key(rows[0]) if rows else None

    async def list(self, tenant: str | None = None) -> list[KeyInfo]:
        where, params = ("WHERE tenant = ?", (tenant,)) if tenant else ("", ())
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM virtual_keys {where} ORDER BY created_ms", params
        )
        return [_key(r) for r in rows]

    async def count_all(self) -> int:
        """Keys ever created, revoked ones included."""
        rows = await self._store.fetchall("SELECT count(*) FROM virtual_keys")
        return int(rows[0][0])

    async def lookup(self, secret: str) -> KeyInfo | None:
        digest = hash_key(secret)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM virtual_keys WHERE hash = ?", (digest,)
        )
        info = _key(rows[0]) if rows else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self._ttl, info)
        return info

    async def revoke(self, key_id: str) -> bool:
        changed = await self._store.execute(
            "UPDATE virtual_keys SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL",
            (int(time.time() * 1000), key_id),
        )
        self._cache.clear()
        return changed > 0

    async def rotate(self, key_id: str) -> tuple[KeyInfo, str] | None:
        """A new secret for the same key id: the old secret stops working at once (on this
        replica; within ``cache_ttl`` elsewhere), while tenant, limits and the spend already
        counted against the budget carry over."""
        secret = new_secret()
        changed = await self._store.execute(
            "UPDATE virtual_keys SET hash = ?, prefix = ? WHERE id = ? AND revoked_ms IS NULL",
            (hash_key(secret), secret[:7], key_id),
        )
        self._cache.clear()
        if not changed:
            return None
        info = await self.get(key_id)
        return (info, secret) if info is not None else None
