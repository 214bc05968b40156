"""Build hook for the optional compiled build; everything else is in pyproject.toml.

``TIERGATE_COMPILE=1 pip install --no-build-isolation .`` compiles the request-path modules
listed under ``[tool.tiergate] compiled-modules`` with mypyc (needs mypy and a C compiler in
the build environment): 4-10% less CPU per proxied request in paired measurements
(docs/benchmarks.md). The default build, editable installs included, stays pure Python. Never
combine it with ``-e``: an editable install would leave the compiled modules beside the
sources, and they would shadow any later edit of those files.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

from setuptools import setup

# Commands that build code; metadata steps (``dist_info``, ``egg_info``) need no compiling,
# and mypycify would otherwise type-check and translate everything once more for them.
_BUILDS = {"bdist_wheel", "build", "build_ext"}


def _extensions() -> list[object]:
    if os.environ.get("TIERGATE_COMPILE") != "1" or not _BUILDS & set(sys.argv[1:]):
        return []
    from mypyc.build import mypycify

    here = Path(__file__).resolve().parent
    config = tomllib.loads((here / "pyproject.toml").read_text())
    modules = config["tool"]["tiergate"]["compiled-modules"]
    return list(mypycify([f"tiergate/{m}" for m in modules], opt_level="3"))


setup(ext_modules=_extensions())
