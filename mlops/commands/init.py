"""`mlops init --data FILE --target COLUMN`: infer the pipeline config from a sample."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mlops.cli import EXIT_OK, UsageError

PARQUET_MAGIC = b"PAR1"


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
    from functions.validate_data.schema_inference import infer_config, sample_warnings, summarize_config

    if not data.is_file():
        raise UsageError(f"mlops init: no such file: {data}")
    if config_path.exists() and not force:
        raise UsageError(f"mlops init: {config_path} exists; pass --force to overwrite it")
    frame = read_sample(data)
    if target not in frame.columns:
        raise UsageError(f"mlops init: column {target!r} is not in {data.name} (columns: {', '.join(map(str, frame.columns[:12]))})")
    try:
        config = infer_config(frame, target, project=project, ignore=ignore, dates=dates)
    except ValueError as error:
        raise UsageError(f"mlops init: cannot infer a config from {data.name}: {error}") from error
    config_path.write_text(config.to_json(), encoding="utf-8")
    print(summarize_config(config))
    for warning in [*sample_warnings(frame, config), *_own_sample_findings(data, config)]:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"\nWrote {config_path}. Check it, tighten bounds and gates where you know better, then deploy.")
    return EXIT_OK


def _own_sample_findings(data: Path, config) -> list[str]:
    """The config is meant to accept the sample it came from; anything it rejects is said."""
    from functions.validate_data.validation import validate_file

    with tempfile.TemporaryDirectory() as work:
        outcome = validate_file(data, config, work_dir=Path(work) / "splits", file_name=data.name)
    return [f"the written config rejects {data.name} itself: {finding.message}" for finding in outcome.errors]


def read_sample(path: Path) -> pd.DataFrame:
    with path.open("rb") as handle:
        magic = handle.read(4)
    try:
        if magic == PARQUET_MAGIC:
            return pd.read_parquet(path)
        return pd.read_csv(path, encoding="utf-8-sig", compression="infer")
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise UsageError(f"mlops init: cannot read {path.name} as CSV or Parquet: {error}") from error
