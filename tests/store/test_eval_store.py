"""Evaluation data in the store, on SQLite and PostgreSQL: outcome rows (written by ``eval
run``, read by ``router train --from-log``) and sampling logged requests (``eval sample``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tiergate.evaluation.offline.outcomes import rows_to_lines
from tiergate.evaluation.offline.sampling import NoPromptsLogged, sample_requests
from tiergate.store.outcomes import OutcomeRow, OutcomeStore
from tiergate.store.records import RequestRecord
from tiergate.store.reports import ReportFilter
from tiergate.store.request_log import RequestLog


async def test_outcome_rows_are_replaced_by_a_rerun_and_read_by_route(store: Any) -> None:
    outcomes = OutcomeStore(store)
    rows = [
        OutcomeRow(
            run_id="r1",
            item_id=f"i{n}",
            model=model,
            ts_ms=1000 + n,
            source="eval",
            route="triage",
            tenant="default",
            prompt=f"prompt {n}",
            score=score,
        )
        for n in range(3)
        for model, score in (("weak", 0.0), ("strong", 1.0))
    ]
    await outcomes.save(rows)
    other = OutcomeRow(
        run_id="r2",
        item_id="i0",
        model="weak",
        ts_ms=5000,
        source="eval",
        route="elsewhere",
        tenant="default",
        prompt="p",
        score=1.0,
    )
    await outcomes.save([other, replace(rows[0], score=0.5)])
    got = await outcomes.for_route("triage")
    assert len(got) == 6  # the rerun of (r1, i0, weak) replaced its row
    assert next(r for r in got if r.item_id == "i0" and r.model == "weak").score == 0.5
    assert await outcomes.for_route("triage", since_ms=1002) == [r for r in got if r.ts_ms >= 1002]
    lines = rows_to_lines(got)
    assert lines[0] == {
        "id": "r1/i0",
        "prompt": "prompt 0",
        "outcomes": {"weak": 0.5, "strong": 1.0},
    }


async def _log(store: Any, records: list[RequestRecord]) -> None:
    log = RequestLog(store)
    await log.start()
    for record in records:
        log.submit(record)
    await log.aclose()


def _request(n: int, **fields: Any) -> RequestRecord:
    defaults: dict[str, Any] = {
        "route": "triage",
        "model": "claude-haiku-4-5",
        "prompt": f"question {n}",
        "response": f"answer {n}",
    }
    return RequestRecord(id=f"req_{n:04d}", ts_ms=1_000_000 + n, **{**defaults, **fields})


async def test_sample_takes_logged_prompts_and_leaves_evaluation_traffic_out(store: Any) -> None:
    records = [_request(n) for n in range(40)]
    records += [_request(40 + n, batch_id="eval_abc") for n in range(10)]  # an evaluation's
    records += [_request(50 + n, prompt=None, response=None) for n in range(5)]  # bodies off
    records += [_request(60, prompt="mail [EMAIL] now"), _request(61, status=500)]
    records += [_request(62, route="other")]
    await _log(store, records)
    sample = await sample_requests(store, ReportFilter(route="triage"), 100, with_reference=True)
    ids = {line["id"] for line in sample.lines}
    assert ids == {f"req_{n:04d}" for n in [*range(40), 60]}
    assert sample.matching == 46 and sample.without_prompt == 5 and sample.redacted == 1
    third = next(line for line in sample.lines if line["id"] == "req_0003")
    assert third["reference"] == "answer 3" and third["served_model"] == "claude-haiku-4-5"
    notes = " ".join(sample.notes())
    assert "redacted" in notes and "5 requests have no stored prompt" in notes
    small = await sample_requests(store, ReportFilter(route="triage"), 7, seed=1)
    again = await sample_requests(store, ReportFilter(route="triage"), 7, seed=1)
    assert len(small.lines) == 7 and small.lines == again.lines
    assert all("reference" not in line for line in small.lines)


async def test_judged_pairs_are_outcome_rows_where_the_prompt_was_logged(store: Any) -> None:
    from tiergate.store.judgments import JudgmentRecord, save_judgment
    from tiergate.store.outcomes import judged_rows

    await _log(store, [_request(n) for n in range(4)] + [_request(4, prompt=None)])
    verdicts = [
        ("pairwise", "win", None, None),
        ("pairwise", "tie", None, None),
        ("rubric", "loss", True, False),
        ("pairwise", None, None, None),
        ("pairwise", "loss", None, None),
    ]
    for n, (mode, verdict, served_pass, candidate_pass) in enumerate(verdicts):
        await save_judgment(
            store,
            JudgmentRecord(
                id=f"j{n}",
                kind="shadow",
                ts_ms=2_000_000 + n,
                tenant="default",
                route="triage",
                request_id=f"req_{n:04d}",
                shadow_id=None,
                served_model="claude-sonnet-4-6",
                candidate_model="claude-haiku-4-5",
                judge_model="gpt-5.4",
                mode=mode,
                verdict=verdict,
                served_pass=served_pass,
                candidate_pass=candidate_pass,
            ),
        )
    rows = await judged_rows(store, "triage")
    got = {(r.item_id, r.model): r.score for r in rows}
    assert got == {  # req_0003 was not judged (the judge failed), req_0004 has no prompt
        ("req_0000", "claude-sonnet-4-6"): 0.0,
        ("req_0000", "claude-haiku-4-5"): 1.0,
        ("req_0001", "claude-sonnet-4-6"): 0.5,
        ("req_0001", "claude-haiku-4-5"): 0.5,
        ("req_0002", "claude-sonnet-4-6"): 1.0,
        ("req_0002", "claude-haiku-4-5"): 0.0,
    }
    assert {r.source for r in rows} == {"shadow"} and rows[0].prompt == "question 0"
    assert rows_to_lines(rows)[0] == {
        "id": "judged-shadow/req_0000",
        "prompt": "question 0",
        "outcomes": {"claude-sonnet-4-6": 0.0, "claude-haiku-4-5": 1.0},
    }
    assert await judged_rows(store, "triage", since_ms=2_000_002) == rows[4:]
    assert await judged_rows(store, "other") == []


async def test_reports_tell_evaluation_traffic_apart(store: Any) -> None:
    from decimal import Decimal

    from tiergate.store.reports import summary

    records = [_request(n, cost_usd=Decimal("0.01")) for n in range(3)]
    records += [
        _request(
            10 + n,
            batch_id="eval_run1",
            cost_usd=Decimal("0.02"),
            model="claude-sonnet-4-6" if n % 2 else "claude-haiku-4-5",
        )
        for n in range(4)
    ]
    records += [_request(20, batch_id="batch_xyz")]
    await _log(store, records)
    report = await summary(store, ReportFilter())
    assert report["totals"]["requests"] == 8  # evaluation traffic is paid for: in the spend
    assert [
        (r["run"], r["model"], r["requests"], r["cost_usd"]) for r in report["evaluations"]
    ] == [("run1", "claude-haiku-4-5", 2, 0.04), ("run1", "claude-sonnet-4-6", 2, 0.04)]


async def test_sample_refuses_when_no_prompt_was_logged(store: Any) -> None:
    await _log(store, [_request(n, prompt=None, response=None) for n in range(5)])
    with pytest.raises(NoPromptsLogged, match="body logging is off"):
        await sample_requests(store, ReportFilter(route="triage"), 10)
    empty = await sample_requests(store, ReportFilter(route="nothing"), 10)
    assert empty.lines == [] and empty.matching == 0
