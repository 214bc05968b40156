"""Under CI the Claude Code end-to-end tests must run, not skip.

``test_claude_code.py`` skips itself on a developer machine without the npm package or without
``unshare -n``; CI installs both (``scripts/test.sh``), so there a skip would hide a broken
install step and let the drop-in tests pass by not running.
"""

from __future__ import annotations

import os

import pytest

from tests.e2e import test_claude_code as claude_code

pytestmark = pytest.mark.skipif(os.environ.get("CI") != "true", reason="checked under CI only")


def test_claude_code_is_installed() -> None:
    assert claude_code.CLAUDE is not None, "npm ci --prefix tests/e2e/claude_code did not run"


def test_a_loopback_only_network_namespace_can_be_made() -> None:
    assert claude_code.NETNS, "unshare -n failed: the Claude Code tests could not stay on loopback"
