"""The optional compiled build (``TIERGATE_COMPILE=1``, setup.py): what its modules must obey,
and, when the suite runs against that build, that it really is the compiled code under test.

mypyc compiles coroutines differently from CPython in one way that matters here: while a
compiled coroutine is suspended inside an ``except`` or ``finally`` block, the exception it is
handling stays visible to every other task (``sys.exc_info()``), so their own errors get it as
a bogus ``__context__`` and their tracebacks in the log lie. The listed modules therefore never
await inside a handler; they note the failure and await after the block.
"""

from __future__ import annotations

import ast
import functools
import importlib
import os
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["tiergate"][
    "compiled-modules"
]


@functools.cache
def _parsed(module: str) -> ast.Module:
    return ast.parse((ROOT / "tiergate" / module).read_text())


def _awaits_in_handlers(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Try | ast.TryStar):
            blocks = [*node.handlers, *node.finalbody]
            for block in blocks:
                for sub in ast.walk(block):
                    if isinstance(sub, ast.Await | ast.AsyncFor | ast.AsyncWith):
                        lines.append(sub.lineno)
    return lines


def _async_generators(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.AsyncFunctionDef):
            # Only this function's own body: a nested function's yield is its own.
            own = [n for n in ast.walk(node) if isinstance(n, ast.Yield | ast.YieldFrom)]
            nested = {
                id(n)
                for inner in ast.walk(node)
                if inner is not node and isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef)
                for n in ast.walk(inner)
            }
            if any(id(n) not in nested for n in own):
                found.append(node.name)
    return found


@pytest.mark.parametrize("module", MODULES)
def test_a_compiled_module_never_awaits_inside_a_handler(module: str) -> None:
    assert _awaits_in_handlers(_parsed(module)) == [], f"{module}: await inside except/finally"


@pytest.mark.parametrize("module", MODULES)
def test_a_compiled_module_defines_no_async_generator(module: str) -> None:
    assert _async_generators(_parsed(module)) == []


def test_the_checks_catch_what_they_look_for() -> None:
    sample = ast.parse(
        "async def f():\n"
        "    try:\n        pass\n    except E:\n        await g()\n"
        "    try:\n        pass\n    finally:\n        await h()\n"
        "async def gen():\n    yield 1\n"
    )
    assert _awaits_in_handlers(sample) == [5, 9]
    assert _async_generators(sample) == ["gen"]


@pytest.mark.skipif(
    os.environ.get("TIERGATE_EXPECT_COMPILED") != "1",
    reason="the suite runs against the pure-Python package (set when testing the compiled build)",
)
@pytest.mark.parametrize("module", MODULES)
def test_the_compiled_build_is_what_runs(module: str) -> None:
    name = "tiergate." + module.removesuffix(".py").replace("/", ".")
    loaded = importlib.import_module(name)
    assert str(loaded.__file__).endswith(".so"), f"{name} came from {loaded.__file__}"
