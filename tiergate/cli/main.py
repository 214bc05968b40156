"""The ``tiergate`` command. Command groups live one per module and load only when used, so
``tiergate cost ...`` never imports the server and ``tiergate serve`` never imports sklearn."""

from __future__ import annotations

import importlib

import click

from tiergate.cli.help import examples

# command name -> "module:attribute"
_COMMANDS = {
    "serve": "tiergate.cli.serve:serve",
    "cost": "tiergate.cli.cost:cost",
    "report": "tiergate.cli.report:report",
    "router": "tiergate.cli.router:router",
    "keys": "tiergate.cli.keys:keys",
    "rollout": "tiergate.cli.rollout:rollout",
    "eval": "tiergate.cli.eval:eval_group",
    "batch": "tiergate.cli.batch:batch",
    "models": "tiergate.cli.models:models",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        command: click.Command = getattr(module, attribute)
        return command


@click.group(
    cls=_LazyGroup,
    epilog=examples(
        "tiergate serve",
        "tiergate report --since 24h",
        "tiergate COMMAND --help      # every command's options, formats and an example",
    ),
)
@click.version_option(package_name="tiergate")
def main() -> None:
    """tiergate: send every LLM request to the cheapest model that does it well."""
