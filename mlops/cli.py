"""`mlops`: run the pipeline locally, and operate it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

DEFAULT_CONFIG = Path("pipeline.json")
DEFAULT_LOCAL_PORT = 4566

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A problem with how the command was called; reported in one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not a usage dump
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlops", description="Event-driven MLOps pipeline: local runs and operations.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    init = commands.add_parser("init", help="infer the pipeline config from a data file")
    init.add_argument("--data", required=True, type=Path, help="a CSV or Parquet sample of the data")
    init.add_argument("--target", required=True, help="the column the model predicts")
    init.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="where to write the config")
    init.add_argument("--project", default="mlops", help="prefix of the names of deployed resources")
    init.add_argument("--force", action="store_true", help="overwrite an existing config")
    init.add_argument(
        "--ignore", action="append", default=[], metavar="COLUMN", help="keep COLUMN in the data but not as a feature (repeatable)"
    )
    init.add_argument(
        "--date", action="append", default=[], metavar="COLUMN", help="COLUMN holds dates: checked, kept, not a feature (repeatable)"
    )

    local = commands.add_parser("local", help="the pipeline on this machine, with no AWS account")
    local_commands = local.add_subparsers(dest="local_command", required=True, parser_class=_Parser)
    run = local_commands.add_parser("run", help="upload files to a local cloud and report each outcome")
    run.add_argument("files", nargs="+", type=Path)
    run.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    run.add_argument("--json", action="store_true", help="one JSON object per upload, one per line")
    up = local_commands.add_parser("up", help="serve the local cloud on 127.0.0.1 for the AWS CLI and boto3")
    up.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    up.add_argument("--port", type=int, default=DEFAULT_LOCAL_PORT)
    local_commands.add_parser("down", help="stop the local server")
    invoke = local_commands.add_parser("invoke", help="send the rows of a file to the local endpoint")
    invoke.add_argument("file", type=Path)
    invoke.add_argument("--config", type=Path, default=None)
    monitor = local_commands.add_parser("monitor", help="run the drift monitor now; show alarms and decisions")
    monitor.add_argument("--config", type=Path, default=None)

    demo = commands.add_parser("demo", help="the whole story on a real public dataset, in under a minute")
    demo.add_argument("--json", action="store_true", help="one JSON object per upload, one per line")

    versions = commands.add_parser("versions", help="the registry's versions, and which one is serving")
    _add_target_arguments(versions)
    lineage = commands.add_parser("lineage", help="everything that produced a version")
    lineage.add_argument("version", type=int)
    lineage.add_argument("--json", action="store_true", help="one JSON object")
    _add_target_arguments(lineage)
    approve = commands.add_parser("approve", help="approve a version; its approval event deploys it")
    approve.add_argument("version", type=int)
    approve.add_argument("--reason", help="why it is approved, kept in the registry and the audit log")
    _add_target_arguments(approve)
    reject = commands.add_parser("reject", help="reject a version so nothing deploys it")
    reject.add_argument("version", type=int)
    reject.add_argument("--reason", required=True, help="why it is rejected, kept in the registry and the audit log")
    _add_target_arguments(reject)
    rollback = commands.add_parser("rollback", help="serve the previous approved version (or --to VERSION) again")
    rollback.add_argument("--to", type=int, dest="to_version", metavar="VERSION")
    rollback.add_argument("--reason", help="why, kept in the audit log and on the rejected version")
    _add_target_arguments(rollback)
    audit = commands.add_parser("audit", help="the audit log of alarm decisions and operator actions, newest first")
    audit.add_argument("--since", type=float, metavar="HOURS", help="only records of the last HOURS hours")
    audit.add_argument("--json", action="store_true", help="one JSON object per record, one per line")
    _add_target_arguments(audit)
    return parser


def _add_target_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--config", type=Path, default=None, help=f"the pipeline config (default {DEFAULT_CONFIG})")
    command.add_argument("--local", action="store_true", help="the local server of `mlops local up`, not AWS")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        arguments = build_parser().parse_args(argv)
        return _dispatch(arguments)
    except UsageError as error:
        print(str(error), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_FAILED


def _dispatch(arguments: argparse.Namespace) -> int:
    if arguments.command == "init":
        from mlops.commands.init import init_config

        return init_config(
            arguments.data,
            arguments.target,
            arguments.config,
            arguments.project,
            arguments.force,
            ignore=arguments.ignore,
            dates=arguments.date,
        )
    if arguments.command == "local" and arguments.local_command == "run":
        from mlops.commands.local_run import local_run

        return local_run(arguments.files, arguments.config, arguments.json)
    if arguments.command == "local" and arguments.local_command == "up":
        from mlops.commands.local_server import local_up

        return local_up(arguments.config, arguments.port)
    if arguments.command == "local" and arguments.local_command == "invoke":
        from mlops.commands.monitoring import local_invoke

        return local_invoke(arguments.file, arguments.config)
    if arguments.command == "local" and arguments.local_command == "monitor":
        from mlops.commands.monitoring import local_monitor

        return local_monitor(arguments.config)
    if arguments.command == "local" and arguments.local_command == "down":
        from mlops.commands.local_server import local_down

        return local_down()
    if arguments.command == "demo":
        from mlops.commands.demo import demo

        return demo(arguments.json)
    if arguments.command == "versions":
        from mlops.commands.registry import versions

        return versions(arguments.config, arguments.local)
    if arguments.command == "lineage":
        from mlops.commands.registry import lineage

        return lineage(arguments.version, arguments.config, arguments.local, arguments.json)
    if arguments.command == "approve":
        from mlops.commands.registry import approve

        return approve(arguments.version, arguments.config, arguments.local, arguments.reason)
    if arguments.command == "reject":
        from mlops.commands.registry import reject

        return reject(arguments.version, arguments.config, arguments.local, arguments.reason)
    if arguments.command == "rollback":
        from mlops.commands.registry import rollback

        return rollback(arguments.to_version, arguments.config, arguments.local, arguments.reason)
    if arguments.command == "audit":
        from mlops.commands.audit import audit

        return audit(arguments.config, arguments.local, arguments.since, arguments.json)
    raise UsageError(f"mlops: unknown command {arguments.command}")


if __name__ == "__main__":
    sys.exit(main())
