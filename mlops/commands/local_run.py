"""`mlops local run FILE [FILE ...]`: upload files in order to one local cloud."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mlops.cli_support import DEFAULT_CONFIG, EXIT_FAILED, EXIT_OK, UsageError
from mlops.console import print_result

if TYPE_CHECKING:
    from mlops.local.results import UploadResult


def register(local_commands: argparse._SubParsersAction) -> None:
    run = local_commands.add_parser("run", help="upload files to a local cloud and report each outcome")
    run.add_argument("files", nargs="+", type=Path)
    run.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    run.add_argument("--json", action="store_true", help="one JSON object per upload, one per line")
    run.set_defaults(handler=lambda arguments: local_run(arguments.files, arguments.config, arguments.json))


def local_run(files: list[Path], config_path: Path, as_json: bool) -> int:
    from functions.common.config import ConfigError, load_config
    from functions.common.outcome import Outcome
    from mlops.local.cloud import LocalCloud
    from mlops.local.runner import run_uploads

    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise UsageError(f"mlops local run: no such file: {', '.join(missing)}")
    if not config_path.is_file():
        raise UsageError(f"mlops local run: no pipeline config at {config_path} (run `mlops init` first)")
    try:
        load_config(config_path)
    except ConfigError as error:
        raise UsageError(f"mlops local run: {error}") from error
    if not as_json:
        print(f"Starting the local cloud from {config_path} (synth + deploy into moto)...", file=sys.stderr)
    with LocalCloud(config_path) as cloud:
        results = run_uploads(cloud, files, on_result=_printer(len(files), as_json))
    return EXIT_OK if all(result.outcome is not Outcome.FAILED for result in results) else EXIT_FAILED


def _printer(total: int, as_json: bool):
    counter = {"index": 0}

    def show(result: UploadResult) -> None:
        counter["index"] += 1
        if as_json:
            print(result.to_json(), flush=True)
        else:
            print_result(result, counter["index"], total)

    return show
