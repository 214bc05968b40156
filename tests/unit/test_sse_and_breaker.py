from __future__ import annotations

from tiergate.executor.breaker import NO_PROBE, CircuitBreakers
from tiergate.wire.sse import SSEEvent, SSEParser, encode_sse


def test_sse_parser_handles_any_split() -> None:
    stream = (
        b'event: message_start\ndata: {"a": 1}\n\n'
        b": comment\n\n"
        b"data: one\r\ndata: two\r\n\r\n"
        b"data: [DONE]\n\n"
    )
    expected = [
        SSEEvent("message_start", '{"a": 1}'),
        SSEEvent(None, "one\ntwo"),
        SSEEvent(None, "[DONE]"),
    ]
    for size in (1, 2, 3, 7, len(stream)):
        parser = SSEParser()
        events = []
        for i in range(0, len(stream), size):
            events.extend(parser.feed(stream[i : i + size]))
        events.extend(parser.close())
        assert events == expected, size


def test_sse_close_flushes_unterminated_event() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: tail") == []
    assert parser.close() == [SSEEvent(None, "tail")]


def test_bytes_that_are_not_utf8_become_replacement_characters() -> None:
    parser = SSEParser()
    events = parser.feed(b'event: d\xff\ndata: {"t": "caf\xc3"}\n\n')
    assert events == [SSEEvent("d\ufffd", '{"t": "caf\ufffd"}')]


def test_encode_sse_round_trips() -> None:
    parser = SSEParser()
    frame = encode_sse(b'{"x":1}', "ping") + encode_sse(b"[DONE]")
    assert parser.feed(frame) == [SSEEvent("ping", '{"x":1}'), SSEEvent(None, "[DONE]")]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_threshold_then_probes_once() -> None:
    clock = Clock()
    breakers = CircuitBreakers(threshold=2, cooldown=10, clock=clock)
    assert breakers.claim("d", 5) == NO_PROBE
    breakers.record_failure("d")
    assert breakers.claim("d", 5) == NO_PROBE
    breakers.record_failure("d")
    assert breakers.claim("d", 5) is None
    assert breakers.open_deployments() == frozenset({"d"})
    clock.now += 10
    assert breakers.open_deployments() == frozenset()  # a request may probe it
    probe = breakers.claim("d", 5)
    assert probe is not None and probe != NO_PROBE
    assert breakers.claim("d", 5) is None  # only one probe at a time
    assert breakers.open_deployments() == frozenset({"d"})  # routes look elsewhere meanwhile
    breakers.record_failure("d")
    assert breakers.claim("d", 5) is None
    clock.now += 10
    assert breakers.claim("d", 5) not in (None, NO_PROBE)
    breakers.record_success("d")
    assert breakers.claim("d", 5) == NO_PROBE and breakers.claim("d", 5) == NO_PROBE
    assert breakers.open_deployments() == frozenset()


def test_a_success_closes_the_breaker_as_if_it_had_never_failed() -> None:
    clock = Clock()
    breakers = CircuitBreakers(threshold=2, cooldown=10, clock=clock)
    breakers.record_failure("d")
    breakers.record_success("d")
    # Closed with no state left: routing sees the same empty set as before any failure.
    assert breakers.open_deployments() is CircuitBreakers().open_deployments()
    assert breakers.probing() == frozenset()
    breakers.record_failure("d")  # the count starts again: one failure does not open it
    assert breakers.claim("d", 5) == NO_PROBE
    breakers.record_failure("d")
    assert breakers.claim("d", 5) is None


def test_a_released_probe_frees_the_slot_and_leaves_the_breaker_half_open() -> None:
    """A probe that ended saying nothing of the upstream (a client that left, a cancellation)
    hands the slot back; the next request probes."""
    clock = Clock()
    breakers = CircuitBreakers(threshold=1, cooldown=10, clock=clock)
    breakers.record_failure("d")
    clock.now += 10
    probe = breakers.claim("d", 60)
    assert probe is not None
    breakers.release("d", probe)
    assert breakers.open_deployments() == frozenset()
    again = breakers.claim("d", 60)
    assert again not in (None, NO_PROBE, probe)


def test_a_probe_that_never_reports_back_loses_the_slot_after_its_lease() -> None:
    clock = Clock()
    breakers = CircuitBreakers(threshold=1, cooldown=10, clock=clock)
    breakers.record_failure("d")
    clock.now += 10
    lost = breakers.claim("d", 3)
    assert lost is not None
    clock.now += 2.9
    assert breakers.claim("d", 3) is None
    clock.now += 0.2
    second = breakers.claim("d", 3)
    assert second not in (None, NO_PROBE, lost)
    breakers.release("d", lost)  # the lost probe's late release must not free the new one
    assert breakers.claim("d", 3) is None
    breakers.release("d", second)
    assert breakers.claim("d", 3) is not None


def test_routing_state_is_reused_until_a_breaker_opens_or_closes() -> None:
    """The gateway hands policies one ``RoutingState`` while nothing changed, and a new one
    naming the open deployment as soon as a breaker opens (and again once it closes)."""
    from tiergate.config import load_settings
    from tiergate.gateway.factory import prepare

    gateway = prepare(load_settings(None, env={"OPENAI_API_KEY": "sk-x"}))
    states = gateway.states
    first = states.current()
    assert states.current() is first and first.unhealthy == frozenset()
    name = next(iter(gateway.deployments.values()))[0].name
    breakers = gateway.executor.breakers
    for _ in range(gateway.settings.retry.breaker_failures):
        breakers.record_failure(name)
    opened = states.current()
    assert opened.unhealthy == {name} and states.current() is opened
    breakers.record_success(name)
    assert states.current().unhealthy == frozenset()
