"""The dashboard in headless Chromium (Debian's package), after a mixed workload, at the two
window widths operators use (1,280 and 1,920): what is visible is asserted in the page itself
(layout measured by the browser, text as rendered, clicks on figures), not only the HTML.

``TIERGATE_SAVE_DASHBOARD=DIR`` copies the screenshots there (``docs/`` keeps them)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from PIL import Image

from tests.e2e.gateway_fixtures import gateway_settings, unpriced_deployment
from tests.e2e.test_tenancy import ADMIN, new_key
from tests.fakes.script import Fail, FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream
from tests.support.browser import FLAGS as BROWSER_FLAGS
from tests.support.browser import Browser, require_chromium

JUDGED_SHADOW = {
    "model": "gpt-5.4",
    "sample": 1,
    "judge": {"model": "claude-sonnet-4-6", "mode": "rubric"},
}
ROUTES = {
    "auto": {"default": "claude-haiku-4-5", "shadow": JUDGED_SHADOW},
    "canary": {
        "default": "claude-haiku-4-5",
        "rollout": {"model": "gpt-5.4", "ramp": {"steps": [25, 50, 100], "every": 3600}},
    },
    "triage": {
        "ladder": ["claude-haiku-4-5", "claude-sonnet-4-6"],
        "validators": [{"type": "one_of", "labels": ["billing", "bug"]}],
    },
}
NO_ANSWER = "no answer (rejected or failed)"  # requests no model answered, labelled
USAGE = FakeUsage(input_tokens=900, output_tokens=60)


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    """One Chromium run with ``args`` (``--dump-dom URL``): the page as it was rendered."""
    binary = require_chromium()
    flags = [f for f in BROWSER_FLAGS if not f.startswith("--remote")]
    return subprocess.run(
        [
            *[binary, *flags, "--window-size=1280,900"],
            *["--virtual-time-budget=8000", f"--user-data-dir={profile}", *args],
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def mixed_workload(
    gateway: str, anthropic_upstream: FakeUpstream, openai_upstream: FakeUpstream, key: str = "x"
) -> dict[str, Any]:
    """A little of everything an operator sees: direct models, a rules route shadowed to a
    candidate, a ladder that escalates, an upstream error, a rejected request, an unpriced
    model and a batch job. Returns what was sent, for the assertions."""
    verdicts = iter(["PASS", "PASS", "FAIL"] * 10)

    def anthropic_side(body: dict[str, Any]) -> Reply:
        """The judge grades (rubric: an <answer> to PASS or FAIL); anyone else answers."""
        asked = str(body["messages"][-1]["content"])
        return Reply(text=next(verdicts) if "<answer>" in asked else "billing", usage=USAGE)

    anthropic_upstream.responder = anthropic_side
    openai_upstream.default = Reply(text="billing", usage=USAGE)
    client = openai.OpenAI(base_url=gateway + "/v1", api_key=key, max_retries=0)

    def ask(model: str) -> None:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "t"}])

    for model, count in (("claude-haiku-4-5", 12), ("gpt-5.4", 4), ("claude-sonnet-4-6", 3)):
        for _ in range(count):
            ask(model)
    cached = FakeUsage(input_tokens=100, output_tokens=60, cache_read=4000)
    for _ in range(3):  # a long system prompt read from the prompt cache
        anthropic_upstream.script(Reply(text="billing", usage=cached))
        ask("claude-sonnet-4-6")
    openai_upstream.script(Fail(500))
    with pytest.raises(openai.InternalServerError):
        ask("gpt-5.4")
    for _ in range(2):  # haiku's answer is not a label: escalated to sonnet
        unsure, label = Reply(text="not sure", usage=USAGE), Reply(text="bug", usage=USAGE)
        anthropic_upstream.script(unsure, label)
        ask("triage")
    ask("triage")
    for _ in range(4):
        ask("auto")
    for _ in range(4):
        ask("canary")
    for _ in range(2):
        ask("deepseek-v4-flash")
    with pytest.raises(openai.NotFoundError):  # no such model: turned away before routing
        ask("no-such-model")
    sdk = anthropic.Anthropic(base_url=gateway, api_key=key, max_retries=0)
    params = {
        "model": "claude-haiku-4-5",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "t"}],
    }
    batch = sdk.messages.batches.create(
        requests=[{"custom_id": f"r{i}", "params": params} for i in range(3)]
    )
    deadline = time.monotonic() + 30
    while sdk.messages.batches.retrieve(batch.id).processing_status != "ended":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    deadline = time.monotonic() + 30
    while sum(r["judged"] for r in report(gateway, key)["judged"]) < 4:  # judged off the path
        assert time.monotonic() < deadline, report(gateway, key)["judged"]
        time.sleep(0.1)
    sent = 12 + 4 + 3 + 3 + 1 + 3 + 4 + 4 + 2 + 1 + 3
    return {"requests": sent, "escalated": 2, "batch": batch.id}


def report(gateway: str, key: str) -> dict[str, Any]:
    answer = httpx.get(gateway + "/v1/tiergate/report", headers={"authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def spread_over_a_day(data_dir: Path) -> None:
    """Move the logged rows back in time, one every 30 minutes, so the charts show a day of
    traffic rather than one minute of it (the workload itself runs in seconds)."""
    with sqlite3.connect(data_dir / "tiergate.db") as db:
        ids = [r[0] for r in db.execute("SELECT id FROM requests ORDER BY ts_ms, id")]
        for i, request_id in enumerate(ids):
            db.execute(
                "UPDATE requests SET ts_ms = ts_ms - ? WHERE id = ?",
                ((len(ids) - 1 - i) * 30 * 60_000, request_id),
            )


LAYOUT = """(() => {
  const visible = (n) => !n.closest('[hidden]') && n.getClientRects().length > 0;
  const tables = [...document.querySelectorAll('table')].filter(visible);
  return {
    scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth,
    clipped: tables.filter((t) => t.scrollWidth > t.parentElement.clientWidth + 1).map((t) => t.id),
    overflowing: [...document.querySelectorAll('.card, .kpi')].filter(visible)
      .filter((c) => c.getBoundingClientRect().right > innerWidth + 0.5)
      .map((c) => c.id || c.className),
  };
})()"""


def kpi(browser: Browser, label: str) -> str:
    value: str = browser.evaluate(
        f"document.querySelector('.kpi[data-kpi=\"{label}\"] .v').textContent"
    )
    return value


def test_dashboard_after_a_mixed_workload_at_two_widths(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    tmp_path: Path,
) -> None:
    deployments = with_unpriced(anthropic_upstream, openai_upstream, tmp_path)
    gateway = make_gateway(routes=ROUTES, deployments=deployments)
    sent = mixed_workload(gateway, anthropic_upstream, openai_upstream)
    spread_over_a_day(tmp_path)
    shots = []
    with Browser(tmp_path / "profile", 1280, 900) as browser:
        for width in (1280, 1920):
            browser.resize(width, 1000)
            browser.open(gateway + "/dashboard")
            browser.wait_for("document.body.dataset.loaded === '1'")
            layout = browser.evaluate(LAYOUT)
            assert layout["scrollWidth"] <= layout["innerWidth"] == width, layout
            assert layout["clipped"] == [] and layout["overflowing"] == [], layout
            assert kpi(browser, "requests") == str(sent["requests"])
            saved = kpi(browser, "saved vs baseline")  # the baseline here is Sonnet: saved > 0
            assert saved.startswith("$") and "$-" not in saved and len(saved.split(".")[1]) == 2
            assert kpi(browser, "saved by prompt cache") != "$0.00"
            unpriced = browser.evaluate(
                "document.querySelector('.kpi[data-kpi=\"spend\"] .n').textContent"
            )
            assert unpriced == "2 unpriced not included"
            assert kpi(browser, "rejected requests") == "1"
            # a day of traffic in hourly buckets, both charts drawn with every model named
            assert browser.evaluate("document.getElementById('bucket-note').textContent") == (
                "USD per hour, UTC"
            )
            assert browser.evaluate("document.querySelectorAll('.uplot canvas').length") == 2
            legend = browser.evaluate("document.querySelector('#mix .u-legend').innerText")
            for name in ("claude-haiku-4-5", "gpt-5.4", "deepseek-v4-flash", NO_ANSWER):
                assert name in legend
            latency = browser.evaluate("document.getElementById('latency').innerText")
            assert NO_ANSWER in latency and "unpriced" in latency
            for card in ("shadow-card", "judged-card", "rollout-card", "batch-card"):
                assert browser.evaluate(f"!document.getElementById('{card}').hidden")
            rollout = browser.evaluate("document.getElementById('rollouts').innerText")
            assert "canary" in rollout and "gpt-5.4" in rollout and "25%" in rollout
            judged = browser.evaluate("document.getElementById('judged').innerText")
            assert "auto" in judged and "%" in judged
            progress = browser.evaluate("document.querySelector('#batches .bar i').style.width")
            assert progress == "100%"
            shots.append(browser.screenshot(tmp_path / f"dashboard-{width}.png"))
        # drill-down: a figure opens the requests it counts
        browser.evaluate("document.querySelector('.kpi[data-kpi=\"escalation rate\"]').click()")
        browser.wait_for("document.querySelectorAll('#drill tbody tr').length === 2")
        tiers = browser.evaluate(
            "[...document.querySelectorAll('#drill tbody tr')].map((r) => r.cells[5].textContent)"
        )
        assert tiers == ["1", "1"]
        browser.evaluate("document.querySelector('#batches tbody tr').click()")
        browser.wait_for("document.getElementById('drill-filters').textContent.includes('batch')")
        browser.wait_for("document.querySelectorAll('#drill tbody tr').length === 3")
        # a click on a chart bucket lists that hour's requests
        left, top, width, height = browser.evaluate(
            "(() => { window.scrollTo(0, 0); const box = document.querySelector('#mix .u-over')"
            ".getBoundingClientRect(); return [box.left, box.top, box.width, box.height]; })()"
        )
        browser.click_at(left + width * 0.75, top + height / 2)  # the day's last quarter
        browser.wait_for("document.getElementById('drill-filters').textContent.startsWith('hour')")
        browser.wait_for("document.querySelectorAll('#drill tbody tr').length >= 1")
        # an hour's range: minute buckets
        browser.evaluate(
            "const r = document.getElementById('range'); r.value = '1h';"
            "r.dispatchEvent(new Event('change'))"
        )
        browser.wait_for(
            "document.getElementById('bucket-note').textContent === 'USD per minute, UTC'"
        )
    for shot in shots:
        image = Image.open(shot).convert("RGB")
        assert image.size[0] in (1280, 1920) and image.size[1] >= 1000
        assert len(image.getcolors(maxcolors=1_000_000) or []) > 50, "the screenshot is blank"
    if os.environ.get("TIERGATE_SAVE_DASHBOARD"):
        target = Path(os.environ["TIERGATE_SAVE_DASHBOARD"])
        shutil.copy(shots[0], target / "dashboard.png")
        shutil.copy(shots[1], target / "dashboard-1920.png")


def with_unpriced(
    anthropic_upstream: FakeUpstream, openai_upstream: FakeUpstream, data_dir: Path
) -> list[dict[str, Any]]:
    """The test gateway's deployments plus one of a model the catalog does not price."""
    base = gateway_settings(anthropic_upstream, openai_upstream, data_dir).deployments
    return [d.model_dump() for d in base] + [unpriced_deployment(openai_upstream)]


def test_negative_savings_print_with_the_sign_before_the_dollar(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    tmp_path: Path,
) -> None:
    gateway = make_gateway(baseline_model="claude-haiku-4-5")  # Sonnet costs more: a loss
    big = FakeUsage(input_tokens=90_000, output_tokens=6_000)
    anthropic_upstream.default = Reply(text="ok", usage=big)
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    for _ in range(3):
        client.chat.completions.create(
            model="claude-sonnet-4-6", messages=[{"role": "user", "content": "t"}]
        )
    report = httpx.get(gateway + "/v1/tiergate/report").json()["totals"]
    assert report["savings_usd"] < -0.01
    with Browser(tmp_path / "profile") as browser:
        browser.open(gateway + "/dashboard")
        browser.wait_for("document.body.dataset.loaded === '1'")
        saved = kpi(browser, "saved vs baseline")
        assert saved == f"-${abs(report['savings_usd']):.2f}", saved
        assert browser.evaluate(
            "document.querySelector('.kpi[data-kpi=\"saved vs baseline\"] .v').classList"
            ".contains('neg')"
        )
        small = browser.evaluate("[fmtUsd(-0.8573), fmtUsd(0.00123), fmtUsd(1234.5), fmtUsd(0)]")
        assert small == ["-$0.86", "$0.0012", "$1,234.50", "$0.00"]


def test_sign_in_keeps_the_key_in_the_session_not_the_url(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    tmp_path: Path,
) -> None:
    gateway = make_gateway(admin_key=ADMIN)
    key = new_key(gateway, tenant="acme")["key"]
    client = openai.OpenAI(base_url=gateway + "/v1", api_key=key, max_retries=0)
    anthropic_upstream.default = Reply(text="ok", usage=USAGE)
    client.chat.completions.create(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": "t"}]
    )
    with Browser(tmp_path / "profile") as browser:
        browser.open(gateway + "/dashboard")
        browser.wait_for("document.body.dataset.loaded === 'signin'")
        assert browser.evaluate("!document.getElementById('signin').hidden")
        browser.evaluate(
            f"document.getElementById('signin-key').value = {key!r};"
            "document.getElementById('signin-form').requestSubmit()"
        )
        browser.wait_for("document.body.dataset.loaded === '1'")
        assert browser.evaluate("document.getElementById('signin').hidden")
        assert kpi(browser, "requests") == "1"
        assert browser.evaluate("sessionStorage.getItem('tiergate.key')") == key
        assert key not in browser.evaluate("location.href")
        # a key in the fragment is taken once and removed from the address bar
        browser.evaluate("sessionStorage.clear(); document.body.dataset.loaded = ''")
        browser.open(gateway + f"/dashboard#key={key}")  # in the same page: a hash change
        browser.wait_for("document.body.dataset.loaded === '1'")
        assert browser.evaluate("location.href") == gateway + "/dashboard"
        browser.evaluate("sessionStorage.clear()")
        browser.open("about:blank")
        browser.open(gateway + f"/dashboard#key={key}")  # a fresh load
        browser.wait_for("document.body && document.body.dataset.loaded === '1'")
        assert browser.evaluate("location.href") == gateway + "/dashboard"
        assert browser.evaluate("sessionStorage.getItem('tiergate.key')") == key
        # a refused key brings the form back and is forgotten
        browser.evaluate("sessionStorage.setItem('tiergate.key', 'tg-wrong')")
        browser.open(gateway + "/dashboard")
        browser.wait_for("document.body.dataset.loaded === 'signin'")
        assert "refused" in browser.evaluate("document.getElementById('signin-error').textContent")
        assert browser.evaluate("sessionStorage.getItem('tiergate.key')") is None


def test_dashboard_renders_without_javascript_errors_when_empty(
    make_gateway: Callable[..., str], tmp_path: Path
) -> None:
    gateway = make_gateway()
    dom = _chromium(["--dump-dom", gateway + "/dashboard"], tmp_path / "p1")
    assert 'data-loaded="1"' in dom.stdout, dom.stderr[-2000:]
    assert 'id="shadow-card" hidden' in dom.stdout  # no shadow traffic, no empty card
    assert 'id="batch-card" hidden' in dom.stdout  # nor batch jobs
    assert "no requests in this range" in dom.stdout


def test_dashboard_money_says_what_it_leaves_out(
    make_gateway: Callable[..., str], openai_upstream: FakeUpstream, tmp_path: Path
) -> None:
    """Unpriced requests are counted beside the spend, never as $0; estimated spend is shown
    as such; with no baseline configured, savings read "no baseline", not minus the spend."""
    openai_deployment = {
        "name": "openai-a",
        "model": "gpt-5.4",
        "provider": "openai",
        "base_url": openai_upstream.url + "/v1",
        "api_key": "k",
    }
    gateway = make_gateway(
        deployments=[openai_deployment, unpriced_deployment(openai_upstream)],
        baseline_model="",  # no baseline (`baseline_model: null` in a file; overrides skip None)
    )
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    usage = FakeUsage(input_tokens=1000, output_tokens=100)
    openai_upstream.default = Reply(text="ok", usage=usage)
    hi = [{"role": "user", "content": "Hi"}]
    client.chat.completions.create(model="deepseek-v4-flash", messages=hi)  # type: ignore[arg-type]
    openai_upstream.default = Reply(text="Hello there, friend!", no_usage=True)
    client.chat.completions.create(model="gpt-5.4", messages=hi)  # type: ignore[arg-type]
    with Browser(tmp_path / "profile") as browser:
        browser.open(gateway + "/dashboard")
        browser.wait_for("document.body.dataset.loaded === '1'")
        # 8 x $2.50 + 5 x $15 per million = $0.000095, estimated (no usage reported)
        assert kpi(browser, "spend") == "$0.000095"
        note = browser.evaluate("document.querySelector('.kpi[data-kpi=\"spend\"] .n').textContent")
        assert note == "1 unpriced not included; $0.000095 estimated (1 requests)"
        assert kpi(browser, "saved vs baseline") == "no baseline"
        assert kpi(browser, "always-baseline would cost") == "no baseline"
        latency = browser.evaluate("document.getElementById('latency').innerText")
        assert "unpriced" in latency and "$0.000095\nest." in latency
