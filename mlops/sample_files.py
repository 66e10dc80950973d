"""Reading the data file a person points a command at (`mlops init`, `mlops local invoke`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlops.cli_support import UsageError

PARQUET_MAGIC = b"PAR1"


def read_sample(path: Path) -> pd.DataFrame:
    with path.open("rb") as handle:
        magic = handle.read(4)
    try:
        if magic == PARQUET_MAGIC:
            return pd.read_parquet(path)
        return pd.read_csv(path, encoding="utf-8-sig", compression="infer")
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise UsageError(f"mlops init: cannot read {path.name} as CSV or Parquet: {error}") from error
