"""`mlops local ...`: the pipeline on this machine, with no AWS account."""

from __future__ import annotations

import argparse

from mlops.cli_support import OneLineErrorParser
from mlops.commands import local_run, local_server, monitoring

# In the order `mlops local --help` lists them.
LOCAL_COMMAND_MODULES = (local_run, local_server, monitoring)


def register(commands: argparse._SubParsersAction) -> None:
    local = commands.add_parser("local", help="the pipeline on this machine, with no AWS account")
    local_commands = local.add_subparsers(dest="local_command", required=True, parser_class=OneLineErrorParser)
    for module in LOCAL_COMMAND_MODULES:
        module.register(local_commands)
