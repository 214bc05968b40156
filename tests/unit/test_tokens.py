"""The input-token estimate: each documented rule, checked on its own."""

from __future__ import annotations

import base64
import struct

import pytest

from tiergate.tokens import (
    CHARS_PER_TOKEN,
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    REQUEST_OVERHEAD,
    TOOL_OVERHEAD,
    TOOL_SYSTEM_PROMPT,
    estimate_input_tokens,
    image_tokens,
    text_units,
    tokens_for_text,
)
from tiergate.types import (
    ChatRequest,
    ImageBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    Tool,
    ToolResultBlock,
    ToolUseBlock,
)


def request(*blocks: object, **fields: object) -> ChatRequest:
    return ChatRequest(model="m", messages=[Message("user", list(blocks))], **fields)  # type: ignore[arg-type]


def png_b64(width: int, height: int) -> str:
    header = (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", width, height)
    )
    return base64.b64encode(header + b"\x08\x02\x00\x00\x00" + b"\x00" * 40).decode()


def gif_b64(width: int, height: int) -> str:
    return base64.b64encode(b"GIF89a" + struct.pack("<HH", width, height) + b"\x00" * 30).decode()


BASE = REQUEST_OVERHEAD + MESSAGE_OVERHEAD


def test_text_is_four_characters_a_token_rounded_up() -> None:
    assert estimate_input_tokens(request(TextBlock(""))) == BASE
    assert estimate_input_tokens(request(TextBlock("abcd"))) == BASE + 1
    assert estimate_input_tokens(request(TextBlock("abcde"))) == BASE + 2
    assert estimate_input_tokens(request(TextBlock("x" * 4000))) == BASE + 1000


def test_system_and_each_message_add_their_share() -> None:
    one = estimate_input_tokens(request(TextBlock("a" * 40)))
    with_system = estimate_input_tokens(request(TextBlock("a" * 40), system=[TextBlock("b" * 40)]))
    assert with_system == one + 10
    two = ChatRequest(
        model="m",
        messages=[Message("user", [TextBlock("a" * 40)]), Message("assistant", [TextBlock("")])],
    )
    assert estimate_input_tokens(two) == one + MESSAGE_OVERHEAD


def test_tools_cost_their_json_plus_overheads() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    tool = Tool("weather", "Get the weather.", schema)
    chars = (
        len("weather")
        + len("Get the weather.")
        + len('{"type":"object","properties":{"city":{"type":"string"}}}')
    )
    tokens = estimate_input_tokens(request(TextBlock(""), tools=[tool]))
    assert tokens == BASE + TOOL_SYSTEM_PROMPT + TOOL_OVERHEAD + -(-chars // CHARS_PER_TOKEN)
    two = estimate_input_tokens(request(TextBlock(""), tools=[tool, Tool("w2")]))
    assert two > tokens + TOOL_OVERHEAD  # the tool prompt is counted once, each tool framed


def test_tool_calls_results_and_thinking_count_as_text() -> None:
    call = ToolUseBlock("t", "fn", {"a": "xxxx"})  # "fn" + '{"a":"xxxx"}' = 14 chars
    assert estimate_input_tokens(request(call)) == BASE + 4
    result = ToolResultBlock("t", [TextBlock("y" * 8)])
    assert estimate_input_tokens(request(result)) == BASE + 2
    assert estimate_input_tokens(request(ThinkingBlock("z" * 12, "sig"))) == BASE + 3


def test_images_by_size_when_the_header_says_and_the_cap_otherwise() -> None:
    assert image_tokens(ImageBlock("base64", "image/png", png_b64(300, 150))) == 60
    assert image_tokens(ImageBlock("base64", "image/gif", gif_b64(75, 10))) == 1
    assert image_tokens(ImageBlock("base64", "image/png", png_b64(4000, 3000))) == IMAGE_TOKENS
    assert image_tokens(ImageBlock("base64", "image/jpeg", "/9j/4AAQSkZJRgABAQ")) == IMAGE_TOKENS
    assert image_tokens(ImageBlock("base64", "image/png", "!!not base64!!")) == IMAGE_TOKENS
    assert image_tokens(ImageBlock("url", url="https://x.test/a.png")) == IMAGE_TOKENS
    inside = ToolResultBlock("t", [ImageBlock("base64", "image/png", png_b64(300, 150))])
    assert estimate_input_tokens(request(inside)) == BASE + 60
    assert estimate_input_tokens(request(ImageBlock("url", url="u"))) == BASE + IMAGE_TOKENS


def test_close_to_anthropics_documented_example() -> None:
    # count_tokens docs: one user message "Hello, Claude" -> 14 input tokens
    assert 8 <= estimate_input_tokens(request(TextBlock("Hello, Claude"))) <= 16


def test_a_big_request_is_estimated_from_its_size_linearly() -> None:
    """The estimate runs on every request, so it counts characters rather than tokenizing:
    each added message adds the same amount. (Its speed is the gateway benchmark's business,
    not a timed unit test's.)"""

    def big(copies: int) -> ChatRequest:
        return ChatRequest(
            model="m",
            messages=[Message("user", [TextBlock("word " * 200)]) for _ in range(copies)],
            tools=[
                Tool(f"t{i}", "d", {"type": "object", "properties": {"a": {}}}) for i in range(20)
            ],
        )

    one, fifty, hundred = (estimate_input_tokens(big(n)) for n in (1, 50, 100))
    per_message = (hundred - fifty) / 50
    assert 200 <= per_message <= 300  # 1,000 characters, at about 4 a token, plus overhead
    assert fifty - one == pytest.approx(49 * per_message, rel=0.01)


# Script-aware text rates, each with the rule it states (see tiergate/tokens.py).
@pytest.mark.parametrize(
    ("text", "tokens", "rule"),
    [
        ("abcd" * 250, 250, "ASCII: 4 characters a token"),
        ("日本語のテキスト" * 125, 1000, "CJK ideographs and kana: 1 token a character"),
        ("한국어" * 100, 300, "Hangul: 1 token a character"),
        ("中文" * 500, 1000, "Chinese: 1 token a character (was 250 at 4 characters a token)"),
        ("привет" * 100, 300, "Cyrillic: 2 characters a token"),
        ("é" * 100, 50, "accented Latin: 2 characters a token"),
        ("สวัสดี" * 10, 60, "Thai: 1 token a character"),
        ("🙂" * 10, 20, "emoji: 2 tokens each"),
        ("ab中", 2, "mixed: 1/4 + 1/4 + 1, rounded up once"),
    ],
)
def test_text_tokens_by_script(text: str, tokens: int, rule: str) -> None:
    assert tokens_for_text(text) == tokens, rule


def test_a_cjk_prompt_is_estimated_near_one_token_a_character() -> None:
    """Regression (issue 19 item 9): a 2,000-character Chinese prompt was estimated at 500
    tokens, letting a budget check pass requests that cost 2.6x more than it reserved."""
    prompt = "请总结以下文档的要点并给出建议。" * 125  # 2,000 characters
    assert estimate_input_tokens(request(TextBlock(prompt))) == BASE + 2000


def test_quarter_units_add_up_across_pieces_of_a_stream() -> None:
    pieces = ["Hel", "lo, ", "世界", "!"]
    assert sum(text_units(p) for p in pieces) == text_units("".join(pieces))


def test_lone_surrogates_do_not_raise() -> None:
    assert tokens_for_text("a\ud800b") >= 1
