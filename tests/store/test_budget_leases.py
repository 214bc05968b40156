"""Budget reservations are leases, on SQLite and PostgreSQL: what a dead process held, or a
settlement the database refused, never leaves a key "budget exhausted" for good; a request
settled twice (a batch item run again) is billed once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest

from tiergate.errors import RateLimited
from tiergate.store.holders import Holder
from tiergate.tenancy.keys import KeyInfo, KeyStore
from tiergate.tenancy.ledger import Ledger

NANO = 10**9


async def budgeted_key(store: Any, usd: str = "1") -> KeyInfo:
    info, _ = await KeyStore(store).create("acme", budget_usd=Decimal(usd), budget_period="day")
    return info


async def held(store: Any) -> int:
    rows = await store.fetchall("SELECT count(*) FROM reservations WHERE settled_ms IS NULL")
    return int(rows[0][0])


async def test_a_dead_processs_reservations_end_with_its_lease(store: Any) -> None:
    key = await budgeted_key(store)
    dead = Holder(store, lease_seconds=0.3)
    await dead.renew()  # holds, but never renews again: the process died
    await Ledger(store, dead.owner).reserve(key, NANO, "req_a")  # the whole $1 budget
    alive = Holder(store, lease_seconds=30)
    await alive.renew()
    ledger = Ledger(store, alive.owner)
    with pytest.raises(RateLimited, match="budget exhausted"):
        await ledger.reserve(key, NANO // 10, "req_b")
    await asyncio.sleep(0.4)
    await alive.reap()
    assert await held(store) == 0
    assert await ledger.reserve(key, NANO // 10, "req_c") is not None
    assert await ledger.spent(key) == (0, NANO // 10)


async def test_start_up_frees_what_a_killed_process_of_this_machine_held(store: Any) -> None:
    key = await budgeted_key(store)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    owner = f"{os.uname().nodename}:{int(gone.stdout)}:deadbeef"
    dead = Holder(store, lease_seconds=3600, owner=owner)  # a long lease, still running
    await dead.renew()
    await Ledger(store, owner).reserve(key, NANO, "req_a")
    other_machine = Holder(store, lease_seconds=3600, owner="elsewhere:1:cafe")
    await other_machine.renew()
    await Ledger(store, other_machine.owner).reserve(key, 0, "req_b")
    restarted = Holder(store, lease_seconds=30)
    await restarted.start()
    try:
        rows = await store.fetchall("SELECT id FROM reservations")
        assert [r[0] for r in rows] == ["req_b"]  # another machine's pids are not judged here
        ledger = Ledger(store, restarted.owner)
        assert await ledger.reserve(key, NANO // 2, "req_c") is not None
    finally:
        await restarted.aclose()
    assert [r[0] for r in await store.fetchall("SELECT id FROM reservations")] == ["req_b"]


async def _fail_spend_updates(store: Any) -> None:
    """Make the database refuse every change to ``spend``, as a full disk would."""
    if store.dialect == "sqlite":
        await store.execute(
            "CREATE TRIGGER full_disk BEFORE UPDATE ON spend "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    else:
        await store.execute(
            "CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'could not extend file' USING ERRCODE = 'disk_full'; END $$"
        )
        await store.execute(
            "CREATE TRIGGER full_disk BEFORE UPDATE ON spend "
            "FOR EACH ROW EXECUTE FUNCTION full_disk()"
        )


async def test_a_settlement_the_database_refused_is_settled_once_it_can_be(store: Any) -> None:
    key = await budgeted_key(store)
    holder = Holder(store)
    await holder.renew()
    ledger = Ledger(store, holder.owner)
    reservation = await ledger.reserve(key, NANO, "req_a")
    assert reservation is not None
    await _fail_spend_updates(store)
    await ledger.settle(reservation, NANO // 4)  # refused: kept, not raised
    assert ledger.unsettled == 1
    with pytest.raises(Exception):  # noqa: B017 - still refused
        await ledger.retry_unsettled()
    on_table = "" if store.dialect == "sqlite" else " ON spend"
    await store.execute("DROP TRIGGER full_disk" + on_table)
    await ledger.retry_unsettled()
    assert ledger.unsettled == 0
    assert await ledger.spent(key) == (NANO // 4, 0)
    assert await ledger.reserve(key, NANO // 2, "req_b") is not None


async def test_a_reservation_a_settlement_never_reached_expires(store: Any) -> None:
    key = await budgeted_key(store)
    holder = Holder(store)
    await holder.renew()
    await Ledger(store, holder.owner, hold_seconds=0.2).reserve(key, NANO, "req_a")
    await asyncio.sleep(0.3)
    await holder.reap()
    assert await Ledger(store, holder.owner).reserve(key, NANO, "req_b") is not None


async def test_a_request_settled_twice_with_keep_is_billed_once(store: Any) -> None:
    """A batch item run again with the same request id after its replica died."""
    key = await budgeted_key(store)
    first, second = Holder(store), Holder(store)
    await first.renew()
    await second.renew()
    run = await Ledger(store, first.owner).reserve(key, NANO // 2, "req_item", keep=True)
    assert run is not None
    await Ledger(store, first.owner).settle(run, NANO // 10)
    again = await Ledger(store, second.owner).reserve(key, NANO // 2, "req_item", keep=True)
    assert again is not None and again.settled
    await Ledger(store, second.owner).settle(again, NANO // 10)
    assert await Ledger(store, second.owner).spent(key) == (NANO // 10, 0)


async def test_a_run_that_died_unsettled_is_taken_over_and_billed_once(store: Any) -> None:
    key = await budgeted_key(store)
    first, second = Holder(store), Holder(store)
    await first.renew()
    await second.renew()
    await Ledger(store, first.owner).reserve(key, NANO // 2, "req_item", keep=True)
    again = await Ledger(store, second.owner).reserve(key, NANO // 2, "req_item", keep=True)
    assert again is not None and not again.settled
    rows = await store.fetchall("SELECT owner FROM reservations WHERE id = 'req_item'")
    assert rows == [(second.owner,)]
    await Ledger(store, second.owner).settle(again, NANO // 10)
    assert await Ledger(store, second.owner).spent(key) == (NANO // 10, 0)
