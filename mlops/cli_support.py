"""What the `mlops` entry point and its commands share: exit statuses, the usage error, the parser
class, the defaults and the arguments several commands take.

Imports nothing beyond the standard library, so that building the parser stays fast: a command
module imports the heavy collaborators (boto3, pandas, the local cloud) only when it runs.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_CONFIG = Path("pipeline.json")
DEFAULT_LOCAL_PORT = 4566
# Where local runs keep their results unless told otherwise: one folder per run.
DEFAULT_RUNS_FOLDER = Path("mlops-runs")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# Where `mlops local up` keeps the state of the server it started, read by `mlops local down`
# and by every `--local` command: one folder per user, so they find the server from any directory.
STATE_FOLDER_VARIABLE = "MLOPS_STATE_DIR"
STATE_FOLDER_NAME = ".mlops"


def local_server_state_folder() -> Path:
    """Read at each call: a test or a second user environment sets MLOPS_STATE_DIR."""
    return Path(os.environ.get(STATE_FOLDER_VARIABLE) or Path.home() / STATE_FOLDER_NAME).expanduser().resolve()


def local_server_state_file() -> Path:
    return local_server_state_folder() / "local-server.json"


def local_server_pid_file() -> Path:
    return local_server_state_folder() / "local-server.pid"


def local_server_log_file() -> Path:
    return local_server_state_folder() / "local-server.log"


# The user's own AWS settings: a local command must not read them (a profile that does not exist,
# expired credentials or another region would change or break what runs in moto).
USER_AWS_VARIABLES = (
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)
LOCAL_AWS_ENVIRONMENT = {
    # No config or credentials file is read: botocore takes these paths as the files to read.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    # The local cloud's region (mlops.local.moto_access.LOCAL_REGION; this module stays light).
    "AWS_DEFAULT_REGION": "us-east-1",
    # No instance metadata lookups for credentials or region on a laptop.
    "AWS_EC2_METADATA_DISABLED": "true",
}


@contextmanager
def local_aws_environment() -> Iterator[None]:
    """os.environ without the user's AWS profile, credentials, region and endpoints for the
    block, then as it was."""
    touched = set(USER_AWS_VARIABLES) | set(LOCAL_AWS_ENVIRONMENT) | {
        name for name in os.environ if name.startswith("AWS_ENDPOINT_URL_")
    }
    saved = {name: os.environ.get(name) for name in touched}
    for name in touched:
        os.environ.pop(name, None)
    os.environ.update(LOCAL_AWS_ENVIRONMENT)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

# What a command sets as its parser's `handler` default: the parsed arguments in, the exit status out.
CommandHandler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """A problem with how the command was called; reported in one line with exit status 2."""


def command_list(parser: argparse.ArgumentParser) -> str:
    """`usage` and one line per command: what `mlops` (or `mlops local`) alone prints."""
    lines = [f"usage: {parser.prog} COMMAND [options]   (`{parser.prog} COMMAND --help` for its options)", "", "commands:"]
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        choices = getattr(action, "_choices_actions", [])
        width = max((len(choice.dest) for choice in choices), default=0)
        lines.extend(f"  {choice.dest.ljust(width)}  {choice.help}" for choice in choices)
    return "\n".join(lines)


class OneLineErrorParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not a usage dump
        raise UsageError(f"{self.prog}: {message}")


def add_target_arguments(command: argparse.ArgumentParser) -> None:
    """Where an operating command reaches its AWS: the deployed stack, or the local server."""
    command.add_argument("--config", type=Path, default=None, help=f"the pipeline config (default {DEFAULT_CONFIG})")
    command.add_argument("--local", action="store_true", help="the local server of `mlops local up`, not AWS")
    command.add_argument("--profile", help="the AWS profile to use (default: AWS_PROFILE, or boto3's default chain)")
    command.add_argument("--region", help="the AWS region of the stack (default: AWS_REGION / the profile's region)")


def runs_locally(arguments: argparse.Namespace) -> bool:
    """Whether the parsed command works on the local cloud only (and so ignores the user's AWS)."""
    return bool(getattr(arguments, "local", False) or getattr(arguments, "local_only", False))
