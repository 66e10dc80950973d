"""`mlops init --data FILE --target COLUMN`: infer the pipeline config from a sample."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlops.cli_support import DEFAULT_CONFIG, EXIT_OK, UsageError

if TYPE_CHECKING:
    from functions.common.config import PipelineConfig


def register(commands: argparse._SubParsersAction) -> None:
    init = commands.add_parser("init", help="infer the pipeline config from a data file")
    init.add_argument("--data", required=True, type=Path, help="a CSV or Parquet sample of the data")
    init.add_argument("--target", required=True, help="the column the model predicts")
    init.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="where to write the config")
    init.add_argument("--project", default="mlops", help="prefix of the names of deployed resources")
    init.add_argument("--force", action="store_true", help="overwrite an existing config")
    init.add_argument(
        "--ignore", action="append", default=[], metavar="COLUMN",
        help="keep COLUMN in the data but not as a feature (repeatable)",
    )
    init.add_argument(
        "--date", action="append", default=[], metavar="COLUMN",
        help="COLUMN holds dates: checked, kept, not a feature (repeatable)",
    )
    init.set_defaults(handler=lambda arguments: init_config(
        arguments.data, arguments.target, arguments.config, arguments.project, arguments.force,
        ignore=arguments.ignore, dates=arguments.date))


def init_config(
    data: Path,
    target: str,
    config_path: Path,
    project: str,
    force: bool,
    *,
    ignore: Sequence[str] = (),
    dates: Sequence[str] = (),
) -> int:
    from functions.common.config import ConfigError
    from mlops.sample_files import read_sample
    from mlops.schema_inference import SchemaInferenceError, infer_config, sample_warnings, summarize_config

    if not data.is_file():
        raise UsageError(f"mlops init: no such file: {data}")
    if config_path.exists() and not force:
        raise UsageError(f"mlops init: {config_path} exists; pass --force to overwrite it")
    frame = read_sample(data)
    if target not in frame.columns:
        raise UsageError(f"mlops init: column {target!r} is not in {data.name} (columns: {', '.join(map(str, frame.columns[:12]))})")
    try:
        config = infer_config(frame, target, project=project, ignore=ignore, dates=dates)
    except (SchemaInferenceError, ConfigError, ValueError) as error:
        raise UsageError(f"mlops init: cannot infer a config from {data.name}: {error}") from error
    config_path.write_text(config.to_json(), encoding="utf-8")
    print(summarize_config(config))
    for warning in [*sample_warnings(frame, config), *_own_sample_findings(data, config)]:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"\nWrote {config_path}. Check it, tighten bounds and gates where you know better, then deploy.")
    return EXIT_OK


def _own_sample_findings(data: Path, config: PipelineConfig) -> list[str]:
    """The config is meant to accept the sample it came from; anything it rejects is said."""
    from functions.validate_data.validation import validate_file

    with tempfile.TemporaryDirectory() as work:
        outcome = validate_file(data, config, work_dir=Path(work) / "splits", file_name=data.name)
    return [f"the written config rejects {data.name} itself: {finding.message}" for finding in outcome.errors]
