"""What the `mlops` entry point and its commands share: exit statuses, the usage error, the parser
class, the defaults and the arguments several commands take.

Imports nothing beyond the standard library, so that building the parser stays fast: a command
module imports the heavy collaborators (boto3, pandas, the local cloud) only when it runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

DEFAULT_CONFIG = Path("pipeline.json")
DEFAULT_LOCAL_PORT = 4566

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# Where `mlops local up` keeps the state of the server it started, read by `mlops local down`
# and by every `--local` command.
LOCAL_SERVER_STATE_FOLDER = Path(".mlops")
LOCAL_SERVER_STATE_FILE = LOCAL_SERVER_STATE_FOLDER / "local-server.json"
LOCAL_SERVER_PID_FILE = LOCAL_SERVER_STATE_FOLDER / "local-server.pid"
LOCAL_SERVER_LOG_FILE = LOCAL_SERVER_STATE_FOLDER / "local-server.log"

# What a command sets as its parser's `handler` default: the parsed arguments in, the exit status out.
CommandHandler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """A problem with how the command was called; reported in one line with exit status 2."""


class OneLineErrorParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not a usage dump
        raise UsageError(f"{self.prog}: {message}")


def add_target_arguments(command: argparse.ArgumentParser) -> None:
    """Where an operating command reaches its AWS: the deployed stack, or the local server."""
    command.add_argument("--config", type=Path, default=None, help=f"the pipeline config (default {DEFAULT_CONFIG})")
    command.add_argument("--local", action="store_true", help="the local server of `mlops local up`, not AWS")
