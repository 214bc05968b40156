"""Shared fixtures: the fake upstreams on loopback (gateway fixtures live in tests/e2e)."""

from tests.fakes.fixtures import *  # noqa: F403
