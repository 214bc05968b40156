"""``python -m tiergate.cli``: the same as the ``tiergate`` command."""

from tiergate.cli.main import main

main()
