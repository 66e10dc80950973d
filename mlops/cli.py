"""`mlops`: run the pipeline locally, and operate it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from importlib.metadata import PackageNotFoundError, version

from mlops.cli_support import (
    EXIT_FAILED,
    EXIT_USAGE,
    OneLineErrorParser,
    UsageError,
    command_list,
    local_aws_environment,
    runs_locally,
)
from mlops.commands import audit, batch, demo, init, local, registry
from mlops.local.runtime_env import RuntimeUnavailableError
from mlops.terminal_text import escaped_standard_streams

# In the order `mlops --help` lists them.
COMMAND_MODULES = (init, local, demo, registry, batch, audit)
DISTRIBUTION = "mlops-pipeline"


def installed_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="mlops", description="Event-driven MLOps pipeline: local runs and operations.")
    parser.add_argument("--version", action="version", version=f"mlops {installed_version()}",
                        help="print the installed version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineErrorParser)
    for module in COMMAND_MODULES:
        module.register(commands)
    parser.set_defaults(handler=lambda arguments: _list_commands(parser))
    return parser


def _list_commands(parser: argparse.ArgumentParser) -> int:
    print(command_list(parser))
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    with escaped_standard_streams():
        try:
            arguments = build_parser().parse_args(argv)
            # A local command runs in moto only: the user's AWS profile, credentials and region
            # must neither break it nor reach it.
            with local_aws_environment() if runs_locally(arguments) else nullcontext():
                return arguments.handler(arguments)
        except UsageError as error:
            print(str(error), file=sys.stderr)
            return EXIT_USAGE
        except RuntimeUnavailableError as error:
            # The local cloud cannot run jobs or endpoints without the image's interpreter.
            print(f"mlops: {error}", file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt:
            return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
