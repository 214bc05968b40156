"""Request ids: unique, ordered by time within a process, different in a forked worker."""

from __future__ import annotations

import os
import re

from tiergate.gateway.request_id import new_request_id


def test_ids_are_unique_and_ordered() -> None:
    ids = [new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(re.fullmatch(r"req_[0-9a-f]{30}", i) for i in ids)


def test_a_forked_child_draws_its_own_process_part() -> None:
    parent = new_request_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report one id and leave at once
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    assert child[16:28] != parent[16:28]  # the 12 hex digits after the timestamp
