"""The dashboard in headless Chromium (Debian's package): it renders the seeded workload."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import openai
import pytest
from PIL import Image

from tests.fakes.script import FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1280,900", "--virtual-time-budget=8000",
]  # fmt: skip


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (scripts/test.sh installs Debian's package)")
        pytest.skip("chromium not installed")
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def seed(gateway: str, anthropic_upstream: FakeUpstream, openai_upstream: FakeUpstream) -> None:
    anthropic_upstream.default = Reply(
        text="ok", usage=FakeUsage(input_tokens=900, output_tokens=60)
    )
    openai_upstream.default = Reply(text="ok", usage=FakeUsage(input_tokens=900, output_tokens=60))
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    for model, count in (("claude-haiku-4-5", 12), ("gpt-5.4", 5), ("claude-sonnet-4-6", 3)):
        for _ in range(count):
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "t"}])


def test_dashboard_renders_spend_mix_and_latency(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    tmp_path: Path,
) -> None:
    gateway = make_gateway()
    seed(gateway, anthropic_upstream, openai_upstream)
    dom = _chromium(["--dump-dom", gateway + "/dashboard"], tmp_path / "p1")
    assert 'data-loaded="1"' in dom.stdout, dom.stderr[-2000:]
    assert "claude-haiku-4-5" in dom.stdout and "gpt-5.4" in dom.stdout
    assert ">20<" in dom.stdout  # total requests KPI
    assert 'id="shadow-card" hidden' in dom.stdout  # no shadow traffic, no empty card
    assert 'id="batch-card" hidden' in dom.stdout  # nor batch jobs
    shot = tmp_path / "dashboard.png"
    result = _chromium([f"--screenshot={shot}", gateway + "/dashboard"], tmp_path / "p2")
    assert shot.exists(), result.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 900)
    colours = image.getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 50, "the screenshot is blank"
    if os.environ.get("TIERGATE_SAVE_DASHBOARD"):
        shutil.copy(shot, os.environ["TIERGATE_SAVE_DASHBOARD"])


def test_dashboard_shows_batch_jobs(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream, tmp_path: Path
) -> None:
    import anthropic

    gateway = make_gateway()
    sdk = anthropic.Anthropic(base_url=gateway, api_key="x", max_retries=0)
    params = {"model": "claude-haiku-4-5", "max_tokens": 5,
              "messages": [{"role": "user", "content": "t"}]}  # fmt: skip
    batch = sdk.messages.batches.create(requests=[{"custom_id": "a", "params": params}])
    dom = _chromium(["--dump-dom", gateway + "/dashboard"], tmp_path / "p1")
    assert 'data-loaded="1"' in dom.stdout, dom.stderr[-2000:]
    assert 'id="batch-card" hidden' not in dom.stdout and batch.id in dom.stdout
