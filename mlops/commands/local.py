"""`mlops local ...`: the pipeline on this machine, with no AWS account."""

from __future__ import annotations

import argparse

from mlops.cli_support import EXIT_USAGE, OneLineErrorParser, command_list
from mlops.commands import local_run, local_server, monitoring

# In the order `mlops local --help` lists them.
LOCAL_COMMAND_MODULES = (local_run, local_server, monitoring)


def register(commands: argparse._SubParsersAction) -> None:
    local = commands.add_parser("local", help="the pipeline on this machine, with no AWS account")
    local_commands = local.add_subparsers(dest="local_command", metavar="COMMAND", parser_class=OneLineErrorParser)
    for module in LOCAL_COMMAND_MODULES:
        module.register(local_commands)
    # Every local command works on moto alone, never on the user's AWS.
    local.set_defaults(local_only=True, handler=lambda arguments: _list_local_commands(local))


def _list_local_commands(local: argparse.ArgumentParser) -> int:
    print(command_list(local))
    return EXIT_USAGE
