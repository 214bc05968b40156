"""Budgets and rate limits, enforced atomically in the store so replicas share them.

Budget: before a call, ``reserve`` holds the request's worst-case cost (its input estimate
plus ``max_tokens`` of output, at the priciest model its plan may use) as one row in
``reservations``, inserted only while ``spent + held + estimate <= budget``. After the call,
``settle`` adds the real cost to ``spent`` and drops the row, in one transaction. Since every
admitted request holds its reservation, total spend can pass the budget only by what in-flight
requests spend beyond their estimate; with the estimate taken from max_tokens that is at most
the input-estimate error of the requests in flight when the limit was reached.

A reservation is a lease, never a debt that outlives its request: it is owned by the gateway
process that made it (``store/holders.py``) and freed once that process is gone (killed,
crashed), and in any case ``hold_seconds`` after it was made. A settlement the database
refuses (a full disk, an outage) is kept and tried again at every renewal of the process's
lease until it goes through. So a key is never left "budget exhausted" by requests that no
longer run.

Settling is idempotent per request id for the rows kept after settling (``keep``: batch items,
which may run again after their replica dies, with the same request id): a second settlement of
the same id adds nothing, so an item is never billed twice.

Rate limits: fixed one-minute windows per key; one upsert both counts and checks.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from tiergate.errors import RateLimited
from tiergate.store.backend import Store, now_ms
from tiergate.store.records import to_nano
from tiergate.tenancy.keys import KeyInfo

logger = logging.getLogger("tiergate")

# Kept settled rows (batch items) outlive any run of their item: a job's items expire a day
# after it was made.
_KEEP_SETTLED_MS = 2 * 86_400_000
_MAX_UNSETTLED = 100_000
# What a key's requests in flight hold in one period (key_id, period): the reservations not
# settled, which the partial index ``reservations_held`` (migration 0012) covers.
_HELD = (
    "(SELECT COALESCE(SUM(nano), 0) FROM reservations "
    "WHERE key_id = ? AND period = ? AND settled_ms IS NULL)"
)


def period_bucket(period: str | None, now: float | None = None) -> str:
    moment = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    if period == "day":
        return moment.strftime("%Y-%m-%d")
    if period == "month":
        return moment.strftime("%Y-%m")
    return "total"


@dataclass(frozen=True, slots=True)
class Reservation:
    key_id: str
    period: str
    nano: int
    id: str = ""  # the request's id
    keep: bool = False  # keep the row after settling (idempotent: batch items)
    settled: bool = False  # an earlier run of the same request was billed: settle adds nothing


class Ledger:
    def __init__(self, store: Store, owner: str = "", *, hold_seconds: float = 3600.0) -> None:
        self._store = store
        self.owner = owner
        self._hold_ms = int(hold_seconds * 1000)
        self._pg = store.dialect == "postgresql"
        # Settlements the database refused, tried again at each ``retry_unsettled``.
        self._unsettled: deque[tuple[Reservation, int]] = deque()

    async def reserve(
        self, key: KeyInfo, estimate_nano: int, request_id: str, *, keep: bool = False
    ) -> Reservation | None:
        """Hold ``estimate_nano`` against the key's budget for request ``request_id``, or
        raise ``RateLimited``."""
        if key.budget_usd is None:
            return None
        budget = to_nano(key.budget_usd) or 0
        period = period_bucket(key.budget_period)
        moment = now_ms()
        # The key's spend row, made if new. On PostgreSQL the upsert also locks it, so one
        # reserver of a key runs at a time and the sum below sees every reservation committed
        # before it (SQLite's write transactions run one at a time anyway).
        conflict = "DO UPDATE SET spent_nusd = spend.spent_nusd" if self._pg else "DO NOTHING"
        steps: list[tuple[str, tuple[object, ...]]] = [
            (
                "INSERT INTO spend (key_id, period, spent_nusd) VALUES (?, ?, 0) "
                f"ON CONFLICT (key_id, period) {conflict}",
                (key.id, period),
            ),
        ]
        until = moment + self._hold_ms
        held = (key.id, period, estimate_nano, key.id, period, budget)
        steps.append(
            (
                "INSERT INTO reservations (id, key_id, period, nano, owner, until_ms) "
                "SELECT ?, ?, ?, ?, ?, ? FROM spend WHERE key_id = ? AND period = ? "
                f"AND spent_nusd + ? + {_HELD} <= ? "
                "ON CONFLICT (id) DO NOTHING RETURNING id",
                (request_id, key.id, period, estimate_nano, self.owner, until, *held),
            )
        )
        results = await self._store.transaction(steps)
        if results[-1]:
            return Reservation(key.id, period, estimate_nano, request_id, keep)
        earlier = await self._earlier_run(request_id, moment) if keep else None
        if earlier is not None:
            return Reservation(key.id, period, earlier[0], request_id, keep, earlier[1])
        raise RateLimited(
            f"budget exhausted: this key's {key.budget_period} budget of "
            f"${key.budget_usd} is spent or held by requests in flight",
            retry_after=_seconds_to_next(key.budget_period),
        )

    async def _earlier_run(self, request_id: str, moment: int) -> tuple[int, bool] | None:
        """A reservation already made for this request id (a batch item run again after its
        replica died): taken over by this process, with whether it was settled already."""
        rows = await self._store.transaction(
            [
                (
                    "UPDATE reservations SET owner = ?, until_ms = CASE WHEN settled_ms IS NULL "
                    "THEN ? ELSE until_ms END WHERE id = ? RETURNING nano, settled_ms",
                    (self.owner, moment + self._hold_ms, request_id),
                )
            ]
        )
        if not rows[0]:
            return None
        nano, settled_ms = rows[0][0]
        return int(nano), settled_ms is not None

    async def settle(self, reservation: Reservation, actual_nano: int) -> None:
        """Add the real cost to the key's spend and free the reservation. A failure (the
        database away, a full disk) is kept and tried again at ``retry_unsettled``; until
        then the reservation stays held, at most ``hold_seconds``."""
        if reservation.settled:
            return
        try:
            await self._settle(reservation, actual_nano)
        except Exception as exc:
            logger.warning("settling request %s failed (%r): will try again", reservation.id, exc)
            if len(self._unsettled) >= _MAX_UNSETTLED:
                self._unsettled.popleft()  # its reservation ends with its lease
            self._unsettled.append((reservation, actual_nano))

    async def _settle(self, reservation: Reservation, actual_nano: int) -> None:
        moment = now_ms()
        # Billed unless this request id was settled already; a reservation freed meanwhile
        # (its lease ran out) is still billed.
        charge = (
            "UPDATE spend SET spent_nusd = spent_nusd + ? WHERE key_id = ? AND period = ? "
            "AND NOT EXISTS (SELECT 1 FROM reservations WHERE id = ? AND settled_ms IS NOT NULL)",
            (actual_nano, reservation.key_id, reservation.period, reservation.id),
        )
        if reservation.keep:
            release: tuple[str, tuple[object, ...]] = (
                "UPDATE reservations SET settled_ms = ?, until_ms = ? WHERE id = ?",
                (moment, moment + _KEEP_SETTLED_MS, reservation.id),
            )
        else:
            release = ("DELETE FROM reservations WHERE id = ?", (reservation.id,))
        if self._pg:  # one statement, one round trip (both parts see the same snapshot)
            await self._store.execute(
                f"WITH released AS ({release[0]} RETURNING id) {charge[0]}",
                (*release[1], *charge[1]),
            )
            return
        await self._store.transaction([charge, release])

    async def retry_unsettled(self) -> None:
        """Try the settlements the database refused again, oldest first; stop at the first
        that fails again."""
        while self._unsettled:
            reservation, actual = self._unsettled[0]
            await self._settle(reservation, actual)
            self._unsettled.popleft()

    @property
    def unsettled(self) -> int:
        return len(self._unsettled)

    async def spent(self, key: KeyInfo) -> tuple[int, int]:
        """What the key spent this period, and what requests in flight hold."""
        period = period_bucket(key.budget_period)
        rows = await self._store.fetchall(
            "SELECT (SELECT COALESCE(MAX(spent_nusd), 0) FROM spend WHERE key_id = ? "
            f"AND period = ?), {_HELD}",
            (key.id, period, key.id, period),
        )
        return int(rows[0][0]), int(rows[0][1])

    async def count_rate(self, key: KeyInfo, tokens: int) -> None:
        """Count one request of ``tokens`` estimated tokens in this minute, or raise 429."""
        if key.rpm is None and key.tpm is None:
            return
        now = time.time()
        minute = int(now // 60)
        rpm = key.rpm if key.rpm is not None else 2**31 - 1
        tpm = key.tpm if key.tpm is not None else 2**62
        results = await self._store.transaction(
            [
                (
                    "INSERT INTO rate_windows (key_id, minute, requests, tokens) "
                    "VALUES (?, ?, 0, 0) ON CONFLICT (key_id, minute) DO NOTHING",
                    (key.id, minute),
                ),
                (
                    "UPDATE rate_windows SET requests = requests + 1, tokens = tokens + ? "
                    "WHERE key_id = ? AND minute = ? AND requests + 1 <= ? AND tokens + ? <= ? "
                    "RETURNING requests",
                    (tokens, key.id, minute, rpm, tokens, tpm),
                ),
            ]
        )
        if not results[1]:
            raise RateLimited(
                f"rate limit reached for this key ({key.rpm or 'unlimited'} requests, "
                f"{key.tpm or 'unlimited'} tokens per minute)",
                retry_after=max(1.0, 60 - now % 60),
            )


def _seconds_to_next(period: str | None, now: datetime | None = None) -> float | None:
    """Seconds until the budget period starts again (UTC); None for a ``total`` budget, which
    never does."""
    now = now or datetime.now(UTC)
    if period == "day":
        return float(86400 - (now.hour * 3600 + now.minute * 60 + now.second))
    if period == "month":
        year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
        return (datetime(year, month, 1, tzinfo=UTC) - now).total_seconds()
    return None
