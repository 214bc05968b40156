"""Help that teaches: every command of ``tiergate`` describes every option, ends with an
example, and names the format of the files it reads."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from tiergate.cli.main import main

_FORMATS = ("JSONL", "YAML", "JSON", "CSV")


def commands() -> Iterator[tuple[str, click.Command]]:
    context = click.Context(main)

    def walk(command: click.Command, path: list[str]) -> Iterator[tuple[str, click.Command]]:
        yield " ".join(path), command
        if isinstance(command, click.Group):
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                assert sub is not None, name
                yield from walk(sub, [*path, name])

    yield from walk(main, [])


ALL = dict(commands())


@pytest.mark.parametrize("path", sorted(ALL))
def test_every_option_is_described_and_an_example_is_given(path: str) -> None:
    command = ALL[path]
    assert (command.help or "").strip(), f"`tiergate {path}` has no description"
    undescribed = [
        p.opts[0]
        for p in command.params
        if isinstance(p, click.Option) and p.name not in ("help", "version") and not p.help
    ]
    assert undescribed == [], f"`tiergate {path}`: options without help: {undescribed}"
    assert "Example:" in (command.epilog or ""), f"`tiergate {path}` shows no example"
    files = [
        p
        for p in command.params
        if isinstance(p, click.Argument) and isinstance(p.type, click.Path)
    ]
    if files:
        text = f"{command.help}\n{command.epilog}"
        assert any(f in text for f in _FORMATS), f"`tiergate {path}` names no data format"


@pytest.mark.parametrize("path", ["router train", "batch submit", "report", "serve"])
def test_help_prints_the_example_verbatim(path: str) -> None:
    result = CliRunner().invoke(main, [*path.split(), "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    example = result.output[result.output.index("Example:") :]
    assert f"tiergate {path}" in example  # kept on its own line, not re-wrapped
