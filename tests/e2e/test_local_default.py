"""The embedded default: no config, no keys, no network; real SmolLM2 text through both SDKs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from tests.support.server import serve_app
from tiergate.config import load_settings
from tiergate.server.factory import create_app

pytestmark = pytest.mark.local_model

MODEL = "local/smollm2-135m"


@pytest.fixture(scope="module")
def default_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("data")
    settings = load_settings(None, env={"TIERGATE_DATA_DIR": str(data_dir)})
    assert [d.provider for d in settings.deployments] == ["local"]
    with serve_app(create_app(settings)) as url:
        yield url


def test_openai_sdk_gets_real_text(default_gateway: str) -> None:
    client = openai.OpenAI(base_url=default_gateway + "/v1", api_key="x", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        max_tokens=12,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
    )
    completion = raw.parse()
    text = completion.choices[0].message.content
    assert text and text.strip()
    assert completion.usage is not None and completion.usage.prompt_tokens > 5
    assert raw.headers["x-tiergate-model"] == MODEL
    assert raw.headers["x-tiergate-cost-usd"] == "0"


def test_anthropic_sdk_create_and_stream(default_gateway: str) -> None:
    client = anthropic.Anthropic(base_url=default_gateway, api_key="x", max_retries=0)
    message = client.messages.create(
        model=MODEL, max_tokens=12, messages=[{"role": "user", "content": "Say hello."}]
    )
    assert message.content[0].type == "text" and message.content[0].text.strip()
    assert message.usage.output_tokens > 0
    with client.messages.stream(
        model=MODEL, max_tokens=12, messages=[{"role": "user", "content": "Count to five."}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1 and "".join(pieces).strip()
    assert final.stop_reason in ("end_turn", "max_tokens")


def test_auto_is_served_by_the_local_model(default_gateway: str) -> None:
    """The README introduces routes with ``model: "auto"``: the default serves it."""
    client = openai.OpenAI(base_url=default_gateway + "/v1", api_key="x", max_retries=0)
    assert "auto" in {m.id for m in client.models.list()}
    raw = client.chat.completions.with_raw_response.create(
        model="auto", max_tokens=8, messages=[{"role": "user", "content": "Say hi."}]
    )
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-tiergate-model"] == MODEL and raw.headers["x-tiergate-route"] == "auto"
