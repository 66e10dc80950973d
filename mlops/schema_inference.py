"""Inferring a pipeline config from example data (what `mlops init` writes for a person to check).

The inferred schema is meant to accept more data like the example and reject broken files:
- types: pandas dtypes are trusted (bool, integer, float); text columns become boolean
  (only true/false), integer or float (all values numbers) or category;
- ranges are the observed range widened on each side by the larger of RANGE_MARGIN_FRACTION
  of its span and TAIL_MARGIN_FACTOR times the distance from the outer decile to the extreme
  (heavy-tailed columns, whose next sample has rarer, larger values, get more room), never
  crossing zero when the data does not (counts, sizes and prices stay non-negative);
- categories are listed when a column has at most MAX_CATEGORIES distinct values; an unseen
  category is a warning, not an error;
- every feature may be empty in a small fraction of rows: twice the observed fraction plus
  NULL_TOLERANCE_FRACTION; the target may never be empty;
- the problem type follows the target: two values -> binary, a label or a small set of whole
  numbers -> multiclass, other numbers -> regression;
- text columns whose values are dates become "date" columns (checked, kept, not a feature), and
  columns named in `ignore` become "ignore" columns (kept, not checked, not a feature);
- the config accepts the sample it came from: at most as many rows required as it has, and a
  target tolerance (`mostly`) that holds its empty targets back rather than rejecting it.
`sample_warnings` says what a person should know before relying on the config.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_integer_dtype, is_numeric_dtype

from functions.common.config import (
    DEFAULT_MOSTLY,
    NON_FEATURE_TYPES,
    ColumnSchema,
    DatasetSchema,
    DeploymentConfig,
    GateConfig,
    PipelineConfig,
    ProblemType,
    ValidationConfig,
)
from functions.common.errors import PipelineError
from functions.validate_data.columns import format_number, text_values
from functions.validate_data.reader import open_table

MAX_CATEGORIES = 50
MAX_MULTICLASS_CLASSES = 50
MAX_INTEGER_CLASSES = 20
RANGE_MARGIN_FRACTION = 1.0
TAIL_MARGIN_FACTOR = 5.0
TAIL_QUANTILE = 0.1
NULL_TOLERANCE_FRACTION = 0.05
# Below this many rows the inferred ranges and categories are as narrow as the sample.
MIN_SAMPLE_ROWS = 100
# A text column is a date column when this share of its values parse as dates.
MIN_DATE_FRACTION = 0.95
DATE_PATTERN = r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$|^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}$"
# A column with a distinct value in every one of at least this many rows looks like an identifier.
MIN_ROWS_FOR_IDENTIFIER = 20
MIN_ROWS_FLOOR = 20
MIN_ROWS_CEILING = 1000
DEFAULT_MIN_ROWS_PER_CLASS = 5
DEFAULT_MAX_DUPLICATE_FRACTION = 0.1
DEFAULT_GATES: dict[str, tuple[str, dict[str, float]]] = {
    "binary": ("roc_auc", {"roc_auc": 0.7}),
    "multiclass": ("f1_macro", {"f1_macro": 0.6}),
    "regression": ("r2", {"r2": 0.1}),
}


class SchemaInferenceError(PipelineError):
    """The example data cannot define a schema (no such target, no rows, an unusable target)."""


def infer_config(
    frame: pd.DataFrame,
    target: str,
    project: str = "mlops",
    problem_type: ProblemType | None = None,
    *,
    ignore: Sequence[str] = (),
    dates: Sequence[str] = (),
) -> PipelineConfig:
    frame = frame.rename(columns=lambda name: str(name).strip())
    if target not in frame.columns:
        raise SchemaInferenceError(f"the target column {target!r} is not in the data (columns: {list(frame.columns)})")
    if len(frame) == 0:
        raise SchemaInferenceError("the data has no rows")
    target_values = frame[target]
    if target_values.isna().all():
        raise SchemaInferenceError(f"the target column {target!r} is empty")
    named = [name for name in (*ignore, *dates) if name not in frame.columns or name == target]
    if named:
        raise SchemaInferenceError(f"{named[0]!r} cannot be marked ignore or date: it is the target or not a column")
    problem_type = problem_type or _infer_problem_type(target_values, target)
    columns = []
    for name in frame.columns:
        if name == target:
            columns.append(_target_schema(frame[name], name, problem_type))
        elif name in ignore:
            columns.append(ColumnSchema(name=name, type="ignore", nullable=True, max_null_fraction=1.0))
        elif name in dates or looks_like_dates(frame[name]):
            columns.append(_date_schema(frame[name], name))
        else:
            columns.append(_feature_schema(frame[name], name))
    primary_metric, thresholds = DEFAULT_GATES[problem_type]
    dataset = DatasetSchema(
        target=target,
        problem_type=problem_type,
        columns=columns,
        min_rows=min(MIN_ROWS_CEILING, max(MIN_ROWS_FLOOR, len(frame) // 10), len(frame)),
        min_rows_per_class=_min_rows_per_class(frame[target], problem_type),
        max_duplicate_fraction=_max_duplicate_fraction(frame),
    )
    return PipelineConfig(
        project=project,
        dataset=dataset,
        gates=GateConfig(primary_metric=primary_metric, thresholds=thresholds),
        deployment=DeploymentConfig(endpoint_name=f"{project}-endpoint"),
    )


def infer_config_from_file(
    path: str | Path, target: str, project: str = "mlops", problem_type: ProblemType | None = None
) -> PipelineConfig:
    """Infer from a CSV (optionally gzip) or Parquet file, read the way uploads are read."""
    table = open_table(Path(path), ValidationConfig(), Path(path).name)
    frame = pd.concat(list(table.iter_chunks()), ignore_index=True)
    return infer_config(frame, target, project, problem_type)


def _infer_problem_type(values: pd.Series, target: str) -> ProblemType:
    kind, numbers, _ = _column_kind(values)
    distinct = _distinct_labels(values)
    if len(distinct) < 2:
        raise SchemaInferenceError(f"the target {target!r} has a single value; there is nothing to learn")
    if len(distinct) == 2:
        return "binary"
    if kind in {"category", "boolean"}:
        if len(distinct) > MAX_MULTICLASS_CLASSES:
            raise SchemaInferenceError(
                f"the target {target!r} is text with {len(distinct)} distinct values; "
                f"classification supports at most {MAX_MULTICLASS_CLASSES} classes"
            )
        return "multiclass"
    present = numbers[~np.isnan(numbers)]
    if len(distinct) <= MAX_INTEGER_CLASSES and np.all(present == np.floor(present)):
        return "multiclass"
    return "regression"


def _column_kind(values: pd.Series) -> tuple[str, np.ndarray, np.ndarray]:
    """(type, float values or NaN, null mask) of a column."""
    if is_bool_dtype(values.dtype):
        null = values.isna().to_numpy()
        return "boolean", np.where(null, np.nan, values.fillna(False).astype(float).to_numpy()), null
    if is_numeric_dtype(values.dtype):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        return ("integer" if is_integer_dtype(values.dtype) else "float"), numbers, np.isnan(numbers)
    text, null = text_values(values)
    present = text[~null]
    numbers = pd.to_numeric(pd.Series(np.where(null, None, text), dtype=object), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )
    if present.size == 0:
        return "category", numbers, null
    lowered = {value.lower() for value in present}
    if lowered <= {"true", "false"}:
        return "boolean", numbers, null
    if np.isfinite(numbers[~null]).all():
        whole = np.all(numbers[~null] == np.floor(numbers[~null]))
        plain = not any(("." in value or "e" in value.lower()) for value in present)
        return ("integer" if whole and plain else "float"), numbers, null
    return "category", numbers, null


def _distinct_labels(values: pd.Series) -> list[str]:
    text, null = text_values(values)
    return sorted(set(text[~null].tolist()))


def _feature_schema(values: pd.Series, name: str) -> ColumnSchema:
    kind, numbers, null = _column_kind(values)
    null_fraction = float(null.mean())
    tolerance = min(1.0, round(null_fraction * 2 + NULL_TOLERANCE_FRACTION, 4))
    schema = {"name": name, "type": kind, "nullable": True, "max_null_fraction": tolerance}
    if kind in {"integer", "float"}:
        schema.update(_range(numbers[~null], integer=kind == "integer"))
    elif kind == "category":
        labels = _distinct_labels(values)
        if labels and len(labels) <= MAX_CATEGORIES:
            schema["categories"] = labels
    return ColumnSchema(**schema)


def looks_like_dates(values: pd.Series) -> bool:
    if is_numeric_dtype(values.dtype) or is_bool_dtype(values.dtype):
        return False
    text, null = text_values(values)
    present = pd.Series(text[~null], dtype=object)
    return bool(len(present)) and float(present.str.match(DATE_PATTERN).mean()) >= MIN_DATE_FRACTION


def _date_schema(values: pd.Series, name: str) -> ColumnSchema:
    null_fraction = float(text_values(values)[1].mean())
    tolerance = min(1.0, round(null_fraction * 2 + NULL_TOLERANCE_FRACTION, 4))
    return ColumnSchema(name=name, type="date", nullable=True, max_null_fraction=tolerance)


def _target_mostly(values: pd.Series) -> float:
    """The target's tolerance: the default, or room for the sample's own empty targets."""
    empty_fraction = float(text_values(values)[1].mean())
    if empty_fraction <= 1.0 - DEFAULT_MOSTLY:
        return DEFAULT_MOSTLY
    return max(0.0, math.floor((1.0 - 2 * empty_fraction) * 100) / 100)


def _target_schema(values: pd.Series, name: str, problem_type: ProblemType) -> ColumnSchema:
    mostly = _target_mostly(values)
    if problem_type == "regression":
        kind, numbers, null = _column_kind(values)
        if kind not in {"integer", "float"}:
            raise SchemaInferenceError(f"a regression target must be numeric; {name!r} holds text")
        return ColumnSchema(name=name, type="float", nullable=False, mostly=mostly, **_range(numbers[~null], integer=False))
    kind, _, _ = _column_kind(values)
    if kind == "boolean":
        return ColumnSchema(name=name, type="boolean", nullable=False, mostly=mostly)
    return ColumnSchema(name=name, type="category", categories=_distinct_labels(values), nullable=False, mostly=mostly)


def sample_warnings(frame: pd.DataFrame, config: PipelineConfig) -> list[str]:
    """What a person should know about a config inferred from `frame` before relying on it."""
    frame = frame.rename(columns=lambda name: str(name).strip())
    dataset = config.dataset
    warnings = []
    rows = len(frame)
    empty_targets = int(text_values(frame[dataset.target])[1].sum())
    if empty_targets:
        target = dataset.column(dataset.target)
        warnings.append(
            f"{empty_targets} of {rows} rows have an empty target '{dataset.target}': uploads hold such rows back "
            f"in the row-level quarantine while they are at most {1.0 - target.mostly:.0%} of the rows "
            "(the target's `mostly`), and are rejected above that"
        )
    if rows < MIN_SAMPLE_ROWS:
        warnings.append(
            f"the sample has {rows} rows: ranges, categories and null tolerances are as narrow as these rows show, "
            f"so the next upload may fall outside them; infer from a larger sample or widen them"
        )
    for column in dataset.columns:
        if column.type == "date":
            warnings.append(
                f"column '{column.name}' holds dates: typed date (values must be dates; kept in the data, not a feature)"
            )
        elif column.type not in NON_FEATURE_TYPES and column.name != dataset.target and _looks_like_identifier(frame[column.name]):
            warnings.append(
                f"column '{column.name}' has a different value in every row, like an identifier: as a feature it "
                f"teaches nothing and new values fall outside its range or categories; pass --ignore {column.name} "
                "to keep it in the data but not as a feature"
            )
    return warnings


def _looks_like_identifier(values: pd.Series) -> bool:
    text, null = text_values(values)
    present = text[~null]
    if len(present) < MIN_ROWS_FOR_IDENTIFIER or len(set(present.tolist())) != len(present):
        return False
    kind, numbers, _ = _column_kind(values)
    return kind in {"integer", "category"}


def _range(present: np.ndarray, integer: bool) -> dict[str, float]:
    if present.size == 0:
        return {}
    low, high = float(present.min()), float(present.max())
    low_decile, high_decile = (float(value) for value in np.quantile(present, [TAIL_QUANTILE, 1 - TAIL_QUANTILE]))
    span = high - low
    if span > 0:
        low_margin = max(span * RANGE_MARGIN_FRACTION, TAIL_MARGIN_FACTOR * (low_decile - low))
        high_margin = max(span * RANGE_MARGIN_FRACTION, TAIL_MARGIN_FACTOR * (high - high_decile))
    else:
        low_margin = high_margin = max(abs(low) * RANGE_MARGIN_FRACTION, 1.0)
    margin = min(low_margin, high_margin)
    minimum, maximum = low - low_margin, high + high_margin
    if low >= 0:
        minimum = max(0.0, minimum)
    if high <= 0:
        maximum = min(0.0, maximum)
    step = 1.0 if integer else 10.0 ** (math.floor(math.log10(margin)) - 1)
    return {"minimum": _round(math.floor(minimum / step) * step, step), "maximum": _round(math.ceil(maximum / step) * step, step)}


def _round(value: float, step: float) -> float:
    digits = max(0, -math.floor(math.log10(step)))
    return round(value, digits)


def _min_rows_per_class(target: pd.Series, problem_type: ProblemType) -> int:
    if problem_type == "regression":
        return DEFAULT_MIN_ROWS_PER_CLASS
    text, null = text_values(target)
    smallest = int(pd.Series(text[~null]).value_counts().min())
    return DEFAULT_MIN_ROWS_PER_CLASS if smallest >= 2 * DEFAULT_MIN_ROWS_PER_CLASS else max(1, smallest // 2)


def _max_duplicate_fraction(frame: pd.DataFrame) -> float:
    observed = float(frame.duplicated().mean())
    return max(DEFAULT_MAX_DUPLICATE_FRACTION, min(1.0, round(observed * 2 + NULL_TOLERANCE_FRACTION, 4)))


def summarize_config(config: PipelineConfig) -> str:
    """A few lines a person can check before the first upload."""
    dataset = config.dataset
    target = dataset.column(dataset.target)
    if dataset.problem_type == "regression":
        target_text = f"regression on '{dataset.target}' (range {_bounds(target)})"
    else:
        classes = target.categories or ["False", "True"]
        target_text = f"{dataset.problem_type} classification of '{dataset.target}' ({len(classes)} classes: {_listed(classes)})"
    lines = [
        f"Project {config.project}: {target_text}; {len(dataset.feature_columns)} features.",
    ]
    width = max(len(column.name) for column in dataset.columns)
    for column in dataset.feature_columns:
        if column.type in NON_FEATURE_TYPES:
            detail = "kept in the data, not a feature" + ("; values must be dates" if column.type == "date" else "")
        elif column.type in {"integer", "float"}:
            detail = f"range {_bounds(column)}"
        elif column.type == "category":
            detail = f"categories {_listed(column.categories)}" if column.categories else "free text (no category check)"
        else:
            detail = "true/false"
        nulls = f"empty in at most {column.max_null_fraction:.0%} of rows" if column.nullable else "never empty"
        lines.append(f"  {column.name.ljust(width)}  {column.type:<8}  {detail}; {nulls}")
    thresholds = ", ".join(f"{metric} >= {value}" for metric, value in config.gates.thresholds.items())
    lines.append(
        f"Rows: at least {dataset.min_rows} ({dataset.min_rows_per_class} per class), "
        f"at most {dataset.max_duplicate_fraction:.0%} duplicates; extra columns "
        f"{'allowed' if dataset.allow_extra_columns else 'rejected'}."
    )
    lines.append(f"Gate: primary metric {config.gates.primary_metric}; {thresholds}; approval {config.approval}.")
    return "\n".join(lines)


def _bounds(column: ColumnSchema) -> str:
    low = "-inf" if column.minimum is None else format_number(column.minimum)
    high = "inf" if column.maximum is None else format_number(column.maximum)
    return f"[{low}, {high}]"


def _listed(values: list[str] | None, limit: int = 6) -> str:
    values = values or []
    shown = ", ".join(values[:limit])
    return shown + (f" (+{len(values) - limit} more)" if len(values) > limit else "")
