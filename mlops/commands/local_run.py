"""`mlops local run FILE [FILE ...]`: upload files in order to one local cloud."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mlops.cli_support import DEFAULT_CONFIG, DEFAULT_RUNS_FOLDER, EXIT_FAILED, EXIT_OK, UsageError
from mlops.console import print_result

if TYPE_CHECKING:
    from mlops.local.results import UploadResult


def register(local_commands: argparse._SubParsersAction) -> None:
    run = local_commands.add_parser("run", help="upload files to a local cloud and report each outcome")
    run.add_argument("files", nargs="*", type=Path, metavar="FILE",
                     help="a CSV (plain or gzip) or Parquet file, uploaded under incoming/ in the order given")
    run.add_argument("--batch", action="append", type=Path, default=[], metavar="FILE",
                     help="a file to score, uploaded under batch/ after the FILEs (repeatable)")
    run.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help=f"the pipeline config (default {DEFAULT_CONFIG})")
    run.add_argument("--json", action="store_true", help="one JSON object per upload, one per line; no progress")
    run.add_argument("--keep", type=Path, default=None, metavar="FOLDER",
                     help="where to keep the run's reports, quarantine copies, logs and outcomes "
                          f"(default {DEFAULT_RUNS_FOLDER}/<UTC time>-<first file>)")
    run.set_defaults(handler=lambda arguments: local_run(
        arguments.files, arguments.config, arguments.json, arguments.keep, arguments.batch))


def local_run(
    files: list[Path], config_path: Path, as_json: bool, keep: Path | None = None, batch_files: list[Path] | None = None
) -> int:
    from functions.common.config import ConfigError, load_config
    from functions.common.outcome import Outcome
    from infra.training_source import image_wheel_target, resolve_source_dir, resolved_wheels
    from mlops.local.cloud import LocalCloud
    from mlops.local.progress import ExecutionProgress
    from mlops.local.run_folder import RunFolder, run_name
    from mlops.local.runner import run_upload, run_uploads

    batch_files = batch_files or []
    if not files and not batch_files:
        raise UsageError("mlops local run: give at least one FILE to upload or --batch FILE to score")
    missing = [str(path) for path in [*files, *batch_files] if not path.is_file()]
    if missing:
        raise UsageError(f"mlops local run: no such file: {', '.join(missing)}")
    if not config_path.is_file():
        raise UsageError(f"mlops local run: no pipeline config at {config_path} (run `mlops init` first)")
    try:
        config = load_config(config_path)
        training_source = resolve_source_dir(config, config_path)
        if training_source is not None and training_source.has_requirements:
            # Resolved now, so that a requirement without a wheel for the image is told in one line.
            resolved_wheels(training_source, image_wheel_target(config.training.framework))
    except ConfigError as error:
        raise UsageError(f"mlops local run: {error}") from error
    folder = RunFolder(keep or DEFAULT_RUNS_FOLDER / run_name((files or batch_files)[0].name, datetime.now(UTC)))
    if not as_json:
        print(f"Starting the local cloud from {config_path} (synth + deploy into moto)...", file=sys.stderr)
    results: list[UploadResult] = []
    with LocalCloud(config_path, log_folder=folder.function_log_folder, job_log_folder=folder.job_log_folder) as cloud:
        progress = None if as_json else ExecutionProgress(cloud, sys.stderr)
        try:
            show = _printer(len(files) + len(batch_files), as_json, results)
            run_uploads(cloud, files, on_result=show, progress=progress)
            for path in batch_files:
                show(run_upload(cloud, path, key=f"batch/{path.name}", progress=progress))
        finally:
            # What ran is kept even when a later upload was interrupted.
            folder.sync(cloud)
            folder.write_outcomes(results)
    if not as_json:
        print("\n".join(folder.summary_lines(results)))
    else:
        print(f"Results kept in {folder.path}", file=sys.stderr)
    return EXIT_OK if all(result.outcome is not Outcome.FAILED for result in results) else EXIT_FAILED


def _printer(total: int, as_json: bool, collected: list[UploadResult]):
    def show(result: UploadResult) -> None:
        collected.append(result)
        if as_json:
            print(result.to_json(), flush=True)
        else:
            print_result(result, len(collected), total)

    return show
