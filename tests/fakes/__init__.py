"""Fake Anthropic and OpenAI upstreams on loopback: the reference the gateway is checked against.

Written independently of ``tiergate.wire`` from the providers' API references, and checked with
the official SDKs pointed straight at them (``tests/adapters/test_fakes_*.py``). Tests use the
fixtures in ``tests.fakes.fixtures`` (``anthropic_upstream``, ``openai_upstream``,
``make_upstream``) and script behaviour with ``Reply`` / ``Fail`` / ``ToolCall``.
"""

from tests.fakes.http import RecordedRequest
from tests.fakes.script import Fail, FakeUsage, Reply, Step, ToolCall
from tests.fakes.upstream import FakeUpstream

__all__ = ["Fail", "FakeUpstream", "FakeUsage", "RecordedRequest", "Reply", "Step", "ToolCall"]
