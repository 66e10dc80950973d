"""Drift of live traffic from the serving model's training data. Pure: no AWS, no environment.

Captured request rows -> a feature frame typed the way validation profiles data (numeric
columns as float with NaN for null, category and boolean columns as canonical labels with None
for null) -> the current profile and, per feature, the PSI against the baseline profile, using
functions/common/drift_profile.py, as validation does, so that live drift and upload drift mean
the same thing.

A feature is drifted when drift_profile.py gives it a "warn" or "fail" status (its PSI, less the
sampling noise of two finite samples, reaches config.drift's or the column's thresholds). The
overall signal is the fraction of compared features that drifted; the drift alarm compares
it with config.drift.alarm_threshold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from functions.common.config import ColumnSchema, DatasetSchema, DriftConfig
from functions.common.drift_profile import DriftComparison, build_profile, compare_to_baseline, profile_kind

# Below this many live rows a PSI says more about the sample than about the traffic.
MIN_ROWS_FOR_DRIFT = 50

NULL_TOKENS = frozenset({"", "na", "n/a", "nan", "-nan", "null", "none", "<na>", "#n/a", "#na", "nat"})
TRUE_TOKENS = frozenset({"true", "1", "1.0"})
FALSE_TOKENS = frozenset({"false", "0", "0.0"})
# Integral floats beyond this are written in exponent form, as validation writes them.
MAX_EXACT_INTEGER = 2**53


@dataclass(frozen=True)
class DriftAssessment:
    rows: int
    comparison: DriftComparison
    current_profile: dict[str, Any]
    alarm_threshold: float

    @property
    def feature_psi(self) -> dict[str, float]:
        return {feature.column: feature.psi for feature in self.comparison.features}

    @property
    def drifted_features(self) -> list[str]:
        return [feature.column for feature in self.comparison.drifted]

    @property
    def drifted_feature_fraction(self) -> float:
        compared = len(self.comparison.features)
        return len(self.comparison.drifted) / compared if compared else 0.0

    @property
    def max_feature_psi(self) -> float:
        return max((feature.psi for feature in self.comparison.features), default=0.0)

    @property
    def alarming(self) -> bool:
        return self.drifted_feature_fraction > self.alarm_threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "drifted_feature_fraction": self.drifted_feature_fraction,
            "max_feature_psi": self.max_feature_psi,
            "alarm_threshold": self.alarm_threshold,
            "alarming": self.alarming,
            "drifted_features": self.drifted_features,
            "comparison": self.comparison.to_dict(),
            "current_profile": self.current_profile,
        }


def _format_number(value: float) -> str:
    if value == math.floor(value) and abs(value) < MAX_EXACT_INTEGER:
        return str(int(value))
    return repr(float(value))


def _number(value: Any) -> float:
    """A raw value as a float; null and unparseable values are NaN (validation samples them as missing)."""
    if value is None:
        return math.nan
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            return math.nan
    return number if math.isfinite(number) else math.nan


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        return _format_number(number) if math.isfinite(number) else None
    text = str(value).strip()
    return None if text.lower() in NULL_TOKENS else text


def _boolean_label(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in TRUE_TOKENS:
        return "True"
    if lowered in FALSE_TOKENS:
        return "False"
    return None


def _declared_by_number(categories: Sequence[str]) -> dict[str, str]:
    by_number: dict[str, str] = {}
    for category in categories:
        number = _number(category)
        if not math.isnan(number):
            by_number[_format_number(number)] = category
    return by_number


def _category_labels(values: list[Any], column: ColumnSchema) -> np.ndarray:
    declared = set(column.categories or [])
    by_number = _declared_by_number(column.categories or [])
    labels = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):
        text = _text(value)
        if text is not None and by_number and text not in declared:
            # "1.0" is the declared category "1", as validation reads it.
            number = _number(text)
            if not math.isnan(number):
                text = by_number.get(_format_number(number), text)
        labels[index] = text
    return labels


def _column_values(values: list[Any], column: ColumnSchema) -> np.ndarray:
    if profile_kind(column) == "numeric":
        return np.array([_number(value) for value in values], dtype=float)
    if column.type == "boolean":
        return np.array([_boolean_label(value) for value in values], dtype=object)
    return _category_labels(values, column)


def feature_frame(rows: Sequence[Mapping[str, Any]], schema: DatasetSchema) -> pd.DataFrame:
    """Request rows ({feature: raw value}) as the frame drift_profile.py profiles; one column per schema feature."""
    return pd.DataFrame(
        {
            column.name: _column_values([row.get(column.name) for row in rows], column)
            for column in schema.feature_columns
        }
    )


def assess_drift(
    rows: Sequence[Mapping[str, Any]], baseline_profile: Mapping[str, Any], schema: DatasetSchema, drift: DriftConfig
) -> DriftAssessment:
    frame = feature_frame(rows, schema)
    return DriftAssessment(
        rows=len(frame),
        comparison=compare_to_baseline(baseline_profile, frame, schema, drift),
        current_profile=build_profile(frame, schema, drift.bins, len(frame)),
        alarm_threshold=drift.alarm_threshold,
    )
