"""Data profiles and drift between a dataset and the baseline a production model was trained on.

Validation profiles each upload and compares it with its baseline; the drift monitor does the
same with captured live traffic. Both use this module, so upload drift and live drift are one
measure.

Profile (profile.json, written beside each curated dataset; the drift baseline of the model
trained on it):

    {"format_version": 1, "rows": <rows in the dataset>, "sample_rows": <rows profiled>,
     "bins": <config.drift.bins>, "target": <target column>,
     "columns": {
        <numeric column>: {"kind": "numeric", "edges": [inner quantile edges, ascending],
                           "fractions": [len(edges) + 1 fractions of the non-null values],
                           "null_fraction": f, "mean": m, "std": s, "min": a, "max": b},
        <category or boolean column>: {"kind": "categorical",
                           "frequencies": {value: fraction of non-null values},
                           "null_fraction": f}}}

Numeric bins are right-closed: bin 0 is (-inf, edges[0]], bin i is (edges[i-1], edges[i]], the
last is (edges[-1], inf). Edges are the i/bins quantiles of the profiled values, each moved to the
midpoint between the observed values on either side of it, de-duplicated: no profiled value sits
on an edge, so ties and values moved by rounding (one ulp) stay in their bin, and a column with
few distinct values gets one bin per value at most (exact categories for a low-cardinality column).

The profile is built from a uniform row sample of at most SAMPLE_ROWS rows (the rows with the
smallest seeded content hashes, so the sample does not depend on row order); below that size
it is exact. PSI compares two distributions of the same bins plus one bin for nulls:
PSI = sum((current - reference) * ln(current / reference)), each fraction floored at half a
row of the smaller sample (and at least PSI_FLOOR_FRACTION), so that an empty bin counts as
rarer than one row, not as impossible.

Two finite samples of the same distribution have a PSI of about (bins - 1) * (1/n + 1/m) on
average (the chi-square bias of the estimate). That noise is reported as `noise_psi` and
subtracted before comparing with the warn and fail thresholds, so a 60-row upload is not
called drifted for being small. On a few hundred rows or more it is a few hundredths.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from functions.common.column_work import each_column
from functions.common.config import NON_FEATURE_TYPES, ColumnSchema, DatasetSchema, DriftConfig

PROFILE_FORMAT_VERSION = 1
SAMPLE_ROWS = 100_000
PSI_FLOOR_FRACTION = 1e-4
# Up to this many edges, one vectorised comparison per edge beats a binary search per value.
MAX_EDGES_FOR_COMPARISONS = 32
NUMERIC_TYPES = frozenset({"integer", "float"})
# Integers up to this magnitude convert to float exactly, so counting them orders them as their
# floats would sort.
MAX_EXACT_FLOAT_INTEGER = 2**53

DriftStatus = Literal["ok", "warn", "fail"]


def profile_kind(column: ColumnSchema) -> str:
    return "numeric" if column.type in NUMERIC_TYPES else "categorical"


def build_profile(sample: pd.DataFrame, schema: DatasetSchema, bins: int, rows: int) -> dict[str, Any]:
    """Profile of `sample`: numeric columns as float (NaN = null), others as labels (None = null)."""
    profiled = [
        column for column in schema.columns if column.name in sample.columns and column.type not in NON_FEATURE_TYPES
    ]
    profiles = each_column(
        lambda item: _column_profile(*item, bins), [(column, sample[column.name]) for column in profiled]
    )
    return {
        "format_version": PROFILE_FORMAT_VERSION,
        "rows": int(rows),
        "sample_rows": int(len(sample)),
        "bins": bins,
        "target": schema.target,
        "columns": {column.name: profile for column, profile in zip(profiled, profiles)},
    }


def _column_profile(column: ColumnSchema, values: pd.Series, bins: int) -> dict[str, Any]:
    if profile_kind(column) == "numeric":
        return _numeric_profile(values.to_numpy(dtype=float, na_value=np.nan), bins, _integers(values))
    return _categorical_profile(values)


def _numeric_profile(values: np.ndarray, bins: int, integers: np.ndarray | None = None) -> dict[str, Any]:
    """Profile of float `values` (NaN = null); `integers` are the same values where the column
    holds integers without nulls, which can be counted rather than sorted."""
    null = np.isnan(values)
    present = values[~null] if null.any() else values
    null_fraction = float(null.mean()) if len(values) else 0.0
    if present.size == 0:
        return {"kind": "numeric", "edges": [], "fractions": [], "null_fraction": null_fraction}
    # One ordering makes both the quantiles and the bin counts cheap (a search per edge).
    ordered = _counted_in_order(integers) if integers is not None else None
    if ordered is None:
        ordered = np.sort(present)
    edges = _edges_between_values(ordered, np.unique(_sorted_quantiles(ordered, np.arange(1, bins) / bins)))
    at_or_below = np.searchsorted(ordered, edges, side="right")
    counts = np.diff(np.append(at_or_below, ordered.size), prepend=0)
    return {
        "kind": "numeric",
        "edges": [float(edge) for edge in edges],
        "fractions": (counts / ordered.size).tolist(),
        "null_fraction": null_fraction,
        "mean": float(present.mean()),
        "std": float(present.std()),
        "min": float(ordered[0]),
        "max": float(ordered[-1]),
    }


def _integers(values: pd.Series) -> np.ndarray | None:
    """The values of a column of NumPy integers (which cannot hold nulls), else None."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
        return values.to_numpy()
    return None


def _counted_in_order(integers: np.ndarray) -> np.ndarray | None:
    """`integers` ascending as floats, by a count per value in their range instead of a sort;
    None where that range is wider than the column is long (the counts would outweigh the sort)
    or holds integers a float cannot represent exactly."""
    if integers.size == 0:
        return None
    low, high = int(integers.min()), int(integers.max())
    if high - low > integers.size or max(-low, high) > MAX_EXACT_FLOAT_INTEGER:
        return None
    counts = np.bincount(integers.astype(np.int64, copy=False) - low)
    occurring = np.flatnonzero(counts)
    return np.repeat((occurring + low).astype(float), counts[occurring])


def _edges_between_values(ordered: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Each quantile moved to the midpoint between the distinct values on either side of it.

    A quantile of data with ties (a discrete column, a rounded one) lands on a value, and every
    copy of that value then sits on the edge: a shift of one ulp moves the whole tie group into
    the next bin and swings PSI. An edge halfway between two observed values is crossed only by a
    real move. A quantile with no value above it bounds nothing and is dropped.
    """
    above = np.searchsorted(ordered, quantiles, side="right")
    inside = above < ordered.size
    low = ordered[above[inside] - 1]
    high = ordered[above[inside]]
    return np.unique(low + (high - low) / 2)


def _sorted_quantiles(ordered: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """np.quantile(ordered, levels) (linear method, same arithmetic) of already sorted values."""
    positions = levels * (ordered.size - 1)
    below = np.floor(positions).astype(np.int64)
    above = np.minimum(below + 1, ordered.size - 1)
    weight = positions - below
    low, high = ordered[below], ordered[above]
    span = high - low
    return np.where(weight >= 0.5, high - span * (1 - weight), low + span * weight)


def _bin_fractions(present: np.ndarray, edges: np.ndarray) -> np.ndarray:
    if len(edges) <= MAX_EDGES_FOR_COMPARISONS:
        at_or_below = [np.count_nonzero(present <= edge) for edge in edges] + [present.size]
        counts = np.diff(np.asarray(at_or_below), prepend=0)
    else:
        counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
    return counts / max(present.size, 1)


def _label_counts(values: pd.Series) -> tuple[dict[str, int], float]:
    """Counts of the non-null labels keyed by their text, most frequent first, and the null fraction.

    The labels are counted without a Python string per row: a column of Arrow strings (pandas'
    default string dtype) by Arrow's own hash count, any other by its factorized codes. Both give
    the distinct labels in order of first appearance, and the counts are then sorted as
    value_counts sorts them (descending, ties in order of first appearance), so the labels come
    out in the same order either way. Nulls (None, NaN, "") are dropped after counting. What is
    left is a few Python values per distinct label, done in plain Python: a pandas Series of a
    dozen labels cost more than counting them.
    """
    labels, label_counts = _distinct_label_counts(values)
    rows_of = label_counts.tolist()
    null_rows = 0
    present: dict[str, int] = {}
    # Python's sort is stable: ties keep their order of first appearance.
    for position in sorted(range(len(labels)), key=lambda position: -rows_of[position]):
        label = labels[position]
        if _is_null_label(label):
            null_rows += rows_of[position]
        else:
            # Labels that print alike (1 and "1" in an object column) are one label.
            text = str(label)
            present[text] = present.get(text, 0) + rows_of[position]
    counts = dict(sorted(present.items(), key=lambda item: -item[1]))
    return counts, (null_rows / len(values) if len(values) else 0.0)


def _distinct_label_counts(values: pd.Series) -> tuple[list[Any], np.ndarray]:
    """The distinct labels of `values` (None for null) in order of first appearance, and their row counts."""
    if _is_arrow_string(values.dtype):
        counted = pc.value_counts(pa.array(values.array))
        return counted.field("values").to_pylist(), counted.field("counts").to_numpy()
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    # Nulls (code -1) are counted in one slot after the labels; where they first appeared does
    # not matter, as they are dropped after a stable sort that keeps the others' order.
    counts = np.bincount(np.where(codes < 0, len(distinct), codes), minlength=len(distinct) + 1)
    return [*distinct.to_numpy(dtype=object), None], counts


def _is_arrow_string(dtype: Any) -> bool:
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage == "pyarrow"
    if isinstance(dtype, pd.ArrowDtype):
        return pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
    return False


def _is_null_label(label: Any) -> bool:
    return label is None or label == "" or (isinstance(label, float) and math.isnan(label))


def _categorical_profile(values: pd.Series) -> dict[str, Any]:
    counts, null_fraction = _label_counts(values)
    total = max(sum(counts.values()), 1)
    return {
        "kind": "categorical",
        "frequencies": {label: count / total for label, count in counts.items()},
        "null_fraction": float(null_fraction),
    }


def psi(reference: np.ndarray, current: np.ndarray, floor_fraction: float = PSI_FLOOR_FRACTION) -> float:
    reference = np.maximum(np.asarray(reference, dtype=float), floor_fraction)
    current = np.maximum(np.asarray(current, dtype=float), floor_fraction)
    return float(np.sum((current - reference) * np.log(current / reference)))


def sampling_noise_psi(occupied_bins: int, reference_rows: int, current_rows: int) -> float:
    """Expected PSI between two samples of one distribution (chi-square bias)."""
    if reference_rows <= 0 or current_rows <= 0:
        return 0.0
    return max(occupied_bins - 1, 0) * (1.0 / reference_rows + 1.0 / current_rows)


@dataclass
class FeatureDrift:
    column: str
    kind: str
    psi: float
    noise_psi: float
    status: DriftStatus
    warn_psi: float
    fail_psi: float
    bin_labels: list[str]
    reference: list[float]
    current: list[float]


@dataclass
class DriftComparison:
    features: list[FeatureDrift] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def drifted(self) -> list[FeatureDrift]:
        return [feature for feature in self.features if feature.status != "ok"]

    def to_dict(self) -> dict[str, Any]:
        return {"features": [asdict(feature) for feature in self.features], "skipped": self.skipped}


def compare_to_baseline(
    baseline: Mapping[str, Any], current: pd.DataFrame, schema: DatasetSchema, drift: DriftConfig
) -> DriftComparison:
    """PSI of each schema column's current values against the baseline profile's bins."""
    comparison = DriftComparison()
    baseline_columns = baseline.get("columns", {})
    present = [
        column for column in schema.columns if column.name in current.columns and column.type not in NON_FEATURE_TYPES
    ]
    reasons = {column.name: _skip_reason(column, baseline_columns.get(column.name), schema) for column in present}
    measured = [column for column in present if reasons[column.name] is None]
    distributions = dict(
        zip(
            (column.name for column in measured),
            each_column(
                lambda item: _distributions(*item),
                [(column, baseline_columns[column.name], current[column.name]) for column in measured],
            ),
        )
    )
    for column in present:
        reason = reasons[column.name]
        if reason is not None:
            comparison.skipped[column.name] = reason
            continue
        labels, expected, actual = distributions[column.name]
        if not labels:
            comparison.skipped[column.name] = "no values in the baseline"
            continue
        kind = profile_kind(column)
        policy = schema.drift_policy(column)
        reference_rows = int(baseline.get("sample_rows", baseline.get("rows", 0)))
        current_rows = len(current)
        floor = max(PSI_FLOOR_FRACTION, 0.5 / max(min(reference_rows, current_rows), 1))
        value = psi(np.array(expected), np.array(actual), floor)
        occupied = int(np.sum((np.array(expected) > 0) | (np.array(actual) > 0)))
        noise = sampling_noise_psi(occupied, reference_rows, current_rows)
        warn_psi = column.drift_warn_psi if column.drift_warn_psi is not None else drift.warn_psi
        fail_psi = column.drift_fail_psi if column.drift_fail_psi is not None else drift.fail_psi
        signal = value - noise
        status: DriftStatus = "fail" if signal >= fail_psi else "warn" if signal >= warn_psi else "ok"
        if status == "fail" and policy == "warn":
            status = "warn"
        comparison.features.append(
            FeatureDrift(
                column.name, kind, round(value, 6), round(noise, 6), status, warn_psi, fail_psi, labels, expected, actual
            )
        )
    return comparison


def _skip_reason(column: ColumnSchema, reference: Mapping[str, Any] | None, schema: DatasetSchema) -> str | None:
    """Why `column` is not compared with its baseline, or None if it is."""
    if schema.drift_policy(column) == "ignore":
        return "drift policy is ignore"
    if reference is None:
        return "not in the baseline profile"
    kind = profile_kind(column)
    if reference.get("kind") != kind:
        return f"baseline profiles it as {reference.get('kind')}, now {kind}"
    return None


def _distributions(
    column: ColumnSchema, reference: Mapping[str, Any], values: pd.Series
) -> tuple[list[str], list[float], list[float]]:
    if profile_kind(column) == "numeric":
        return _numeric_distributions(reference, values)
    return _categorical_distributions(reference, values)


def _numeric_distributions(reference: Mapping[str, Any], values: pd.Series) -> tuple[list[str], list[float], list[float]]:
    edges = np.asarray(reference.get("edges", []), dtype=float)
    fractions = list(reference.get("fractions", []))
    if not fractions:
        return [], [], []
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    null = np.isnan(numbers)
    present = numbers[~null] if null.any() else numbers
    current_null = float(null.mean()) if len(numbers) else 0.0
    reference_null = float(reference.get("null_fraction", 0.0))
    current = _bin_fractions(present, edges) if present.size else np.zeros(len(edges) + 1)
    expected = [fraction * (1 - reference_null) for fraction in fractions] + [reference_null]
    actual = [float(fraction) * (1 - current_null) for fraction in current] + [current_null]
    return _numeric_bin_labels(edges) + ["(null)"], expected, actual


def _numeric_bin_labels(edges: np.ndarray) -> list[str]:
    if edges.size == 0:
        return ["all values"]
    bounds = [_short(edge) for edge in edges]
    labels = [f"<= {bounds[0]}"]
    labels += [f"({low}, {high}]" for low, high in zip(bounds, bounds[1:])]
    labels.append(f"> {bounds[-1]}")
    return labels


def _short(number: float) -> str:
    return f"{number:.4g}" if math.isfinite(number) else str(number)


def _categorical_distributions(
    reference: Mapping[str, Any], values: pd.Series
) -> tuple[list[str], list[float], list[float]]:
    frequencies: Mapping[str, float] = reference.get("frequencies", {})
    counts, current_null = _label_counts(values)
    total = max(sum(counts.values()), 1)
    reference_null = float(reference.get("null_fraction", 0.0))
    labels = list(frequencies) + [label for label in counts if label not in frequencies]
    if not labels and not reference_null:
        return [], [], []
    expected = [frequencies.get(label, 0.0) * (1 - reference_null) for label in labels] + [reference_null]
    actual = [counts.get(label, 0) / total * (1 - current_null) for label in labels] + [current_null]
    return [str(label) for label in labels] + ["(null)"], expected, actual
