"""A rollout through the real gateway: the candidate answers its share of the route's users
(each user always the same model), the headers say why, and the report compares the two."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai

from tests.fakes.script import FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream
from tiergate.routing.rollout import BUCKETS, rollout_bucket
from tiergate.types import ChatRequest

ROUTES = {"auto": {"default": "claude-sonnet-4-6", "rollout": {"model": "gpt-5.4", "percent": 30}}}


def _rolled_out(user: str) -> bool:
    request = ChatRequest(model="auto", messages=[], metadata={"user_id": user})
    return rollout_bucket(request) < 30 * BUCKETS / 100


def test_a_rollout_serves_its_share_of_users_with_the_candidate(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    gateway = make_gateway(routes=ROUTES)
    anthropic_upstream.default = Reply(text="from sonnet", usage=FakeUsage(100, 10))
    openai_upstream.default = Reply(text="from gpt", usage=FakeUsage(100, 10))
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    users = [f"user-{i}" for i in range(40)]
    served: dict[str, str] = {}
    for user in users + users[:10]:  # the first ten ask twice
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "hi"}], user=user
        )
        model = raw.headers["x-tiergate-model"]
        assert served.setdefault(user, model) == model  # a user stays on one model
        expected = "gpt-5.4" if _rolled_out(user) else "claude-sonnet-4-6"
        assert model == expected
        answer = raw.parse().choices[0].message.content
        assert answer == ("from gpt" if model == "gpt-5.4" else "from sonnet")
        if model == "gpt-5.4":
            assert raw.headers["x-tiergate-reason"].startswith(
                "rollout 30% -> gpt-5.4 instead of claude-sonnet-4-6"
            )
    rolled = sum(1 for model in served.values() if model == "gpt-5.4")
    assert 0 < rolled < len(users)
    assert openai_upstream.last.json["user"] in served  # the user id still reaches upstream

    data = httpx.get(gateway + "/v1/tiergate/report?route=auto").json()
    mix = {row["model"]: row["requests"] for row in data["by_route_model"]}
    asked = {m: sum(1 for u in users + users[:10] if served[u] == m) for m in set(served.values())}
    assert mix == asked
