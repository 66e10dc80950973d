"""`mlops`: run the pipeline locally, and operate it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mlops.cli_support import EXIT_FAILED, EXIT_USAGE, OneLineErrorParser, UsageError
from mlops.commands import audit, demo, init, local, registry
from mlops.local.runtime_env import RuntimeUnavailableError
from mlops.terminal_text import escaped_standard_streams

# In the order `mlops --help` lists them.
COMMAND_MODULES = (init, local, demo, registry, audit)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="mlops", description="Event-driven MLOps pipeline: local runs and operations.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineErrorParser)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    with escaped_standard_streams():
        try:
            arguments = build_parser().parse_args(argv)
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
