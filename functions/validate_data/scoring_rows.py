"""The second pass over a file to be scored (batch/): the rows to score, in file order.

Three files come out of an accepted file:
- `features.csv`: one line per scored row, the model's features in the schema's order, no header,
  written as the curated splits write values (csv_lines.py): the CSV the endpoint and the batch
  transform job take (functions/training/inference.py).
- `rows.csv`: the same rows' number in the upload (1 = the first data row) and the values of its
  id columns (the schema's `ignore` and `date` columns present in the file) as read, with a
  header: the predictions are joined to these line by line.
- `quarantined.csv` (when a column's tolerance held rows back): those rows as read with the
  reason, as for a training upload; they are not scored.
Pure: local files only.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from functions.common.config import NON_FEATURE_TYPES, ColumnSchema, PipelineConfig
from functions.validate_data.columns import coerce_column
from functions.validate_data.csv_lines import csv_lines, write_lines
from functions.validate_data.reader import Table
# validation.py imports this module inside validate_file, so this import is not circular.
from functions.validate_data.validation import QUARANTINE_REASON_COLUMN, quarantined_rows, raw_value_text

FEATURES = "features"
ROWS = "rows"
QUARANTINED = "quarantined"
ROW_NUMBER_COLUMN = "row"


def scoring_config(config: PipelineConfig) -> PipelineConfig:
    """The config a file to score is checked with: with batch.drift "report", drift beyond a
    column's fail level is a warning in the report, not a rejection."""
    if config.batch.drift == "block":
        return config
    columns = [
        column if column.drift == "ignore" else column.model_copy(update={"drift": "warn"})
        for column in config.dataset.columns
    ]
    return config.model_copy(update={"dataset": config.dataset.model_copy(update={"columns": columns})})


def model_features(config: PipelineConfig) -> list[ColumnSchema]:
    """The columns the model takes, in the order the serving code reads CSV rows."""
    schema = config.dataset
    return [c for c in schema.columns if c.name != schema.target and c.type not in NON_FEATURE_TYPES]


def id_columns(config: PipelineConfig, file_columns: list[str]) -> list[str]:
    """The schema's non-feature columns (ids, dates) the file has, which the predictions carry."""
    present = set(file_columns)
    return [c.name for c in config.dataset.columns if c.type in NON_FEATURE_TYPES and c.name in present]


def write_scoring_rows(
    table: Table, config: PipelineConfig, flagged: np.ndarray, work_dir: Path, *, arrow: bool = False
) -> dict[str, Path]:
    work_dir.mkdir(parents=True, exist_ok=True)
    features = model_features(config)
    ids = id_columns(config, table.columns)
    paths = {FEATURES: work_dir / "features.csv", ROWS: work_dir / "rows.csv"}
    any_quarantined = bool(flagged.any())
    if any_quarantined:
        paths[QUARANTINED] = work_dir / "quarantined.csv"
    with paths[FEATURES].open("wb") as feature_stream, paths[ROWS].open("w", encoding="utf-8", newline="") as row_stream:
        row_writer = csv.writer(row_stream, lineterminator="\n")
        row_writer.writerow([ROW_NUMBER_COLUMN, *ids])
        quarantine_stream = paths[QUARANTINED].open("w", encoding="utf-8", newline="") if any_quarantined else None
        try:
            quarantine_writer = csv.writer(quarantine_stream, lineterminator="\n") if quarantine_stream else None
            if quarantine_writer:
                quarantine_writer.writerow([*table.columns, QUARANTINE_REASON_COLUMN])
            offset = 0
            for chunk in table.iter_arrow_batches() if arrow else table.iter_chunks():
                size = len(chunk)
                kept = ~flagged[offset : offset + size]
                write_lines(feature_stream, csv_lines([coerce_column(chunk[c.name], c) for c in features]), kept)
                positions = np.flatnonzero(kept)
                id_values = [[raw_value_text(chunk[name], int(p)) for p in positions] for name in ids]
                row_writer.writerows(
                    [offset + int(p) + 1, *(values[slot] for values in id_values)] for slot, p in enumerate(positions)
                )
                held = np.flatnonzero(~kept)
                if quarantine_writer is not None and held.size:
                    checked = [coerce_column(chunk[c.name], c) for c in config.dataset.columns
                               if c.name in set(table.columns) and c.name != config.dataset.target]
                    quarantine_writer.writerows(
                        quarantined_rows(chunk, table.columns, checked, held, config.dataset.target)
                    )
                offset += size
        finally:
            if quarantine_stream is not None:
                quarantine_stream.close()
    return paths
