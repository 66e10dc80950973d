"""Bootstrap confidence intervals, the report's curves and confusion matrix, and the promotion gates.

The metrics themselves are defined in functions/common/model_metrics.py, shared with the live
quality monitor.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from functions.common.config import LOWER_IS_BETTER_METRICS, GateConfig, ProblemType
from functions.common.model_metrics import (
    METRICS,
    BinaryRows,
    MulticlassRows,
    RegressionRows,
    Rows,
    available_metrics,
    compute_metric,
    threshold_counts,
)

CONFIDENCE_LEVEL = 0.95
BOOTSTRAP_SEED = 20240601
MAX_CURVE_POINTS = 200


# --- bootstrap ---------------------------------------------------------------------------------


def _percentile_interval(values: list[float]) -> tuple[float, float]:
    tail_percent = (1 - CONFIDENCE_LEVEL) / 2 * 100
    low, high = np.percentile(np.asarray(values), [tail_percent, 100 - tail_percent])
    return float(low), float(high)


def bootstrap_intervals(
    rows: Rows, metric_names: Iterable[str], samples: int, seed: int = BOOTSTRAP_SEED
) -> dict[str, tuple[float, float]]:
    """Percentile intervals from resampling test rows with replacement; seeded, so reruns agree."""
    names = [n for n in dict.fromkeys(metric_names) if n in available_metrics(rows)]
    if samples <= 0 or not names:
        return {}
    rng = np.random.default_rng(seed)
    collected: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(samples):
        sample = rows.take(rng.integers(0, rows.size, rows.size))
        for name in names:
            value = compute_metric(sample, name)
            if math.isfinite(value):
                collected[name].append(value)
    return {name: _percentile_interval(values) for name, values in collected.items() if values}


def bootstrap_difference(
    challenger: Rows, champion: Rows, metric_name: str, samples: int, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float] | None:
    """Interval of (challenger - champion) on the same resampled rows: a paired comparison."""
    if samples <= 0 or challenger.size != champion.size:
        return None
    if metric_name not in available_metrics(challenger) or metric_name not in available_metrics(champion):
        return None
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(samples):
        index = rng.integers(0, challenger.size, challenger.size)
        value = compute_metric(challenger.take(index), metric_name) - compute_metric(champion.take(index), metric_name)
        if math.isfinite(value):
            differences.append(value)
    return _percentile_interval(differences) if differences else None


# --- curves and confusion matrix for the report ------------------------------------------------


def _thin(values: np.ndarray, limit: int = MAX_CURVE_POINTS) -> list[float]:
    if len(values) <= limit:
        return [round(float(v), 6) for v in values]
    keep = np.unique(np.linspace(0, len(values) - 1, limit).round().astype(int))
    return [round(float(v), 6) for v in values[keep]]


def roc_curve_points(rows: BinaryRows) -> dict[str, list[float]] | None:
    if rows.score is None or rows.y.min() == rows.y.max():
        return None
    true_positives, false_positives = threshold_counts(rows.y, rows.score)
    tpr = np.r_[0.0, true_positives / true_positives[-1]]
    fpr = np.r_[0.0, false_positives / false_positives[-1]]
    return {"fpr": _thin(fpr), "tpr": _thin(tpr)}


def precision_recall_points(rows: BinaryRows) -> dict[str, list[float]] | None:
    if rows.score is None or rows.y.sum() == 0:
        return None
    true_positives, false_positives = threshold_counts(rows.y, rows.score)
    precision = np.r_[1.0, true_positives / (true_positives + false_positives)]
    recall = np.r_[0.0, true_positives / true_positives[-1]]
    return {"recall": _thin(recall), "precision": _thin(precision)}


def confusion_matrix(rows: BinaryRows | MulticlassRows) -> dict[str, Any]:
    """Counts with true labels as rows and predicted labels as columns."""
    labels = list(rows.labels) if isinstance(rows, BinaryRows) else list(rows.classes)
    size = len(labels)
    counts = np.zeros((size, size), dtype=int)
    np.add.at(counts, (rows.y, rows.y_hat), 1)
    return {"labels": labels, "counts": counts.tolist()}


def regression_points(rows: RegressionRows) -> dict[str, list[float]]:
    return {"actual": _thin(rows.y), "predicted": _thin(rows.y_hat)}


# --- gates -------------------------------------------------------------------------------------


def lower_is_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER_METRICS


def _fmt(value: float) -> str:
    return f"{value:.4f}"


@dataclass(frozen=True)
class GateCheck:
    gate: str  # "threshold", "primary" or "champion"
    metric: str
    passed: bool
    reason: str  # one sentence


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    checks: list[GateCheck]
    reasons: list[str]
    summary: str
    notes: list[str] = field(default_factory=list)


def _threshold_check(metric: str, bound: float, metrics: dict[str, float], problem_type: ProblemType) -> GateCheck:
    if metric not in METRICS[problem_type]:
        return GateCheck("threshold", metric, False, f"The threshold on {metric} cannot be checked: {metric} is not a {problem_type} metric.")
    if metric not in metrics:
        return GateCheck("threshold", metric, False, f"The threshold on {metric} cannot be checked: {metric} is undefined for this model on the test split.")
    value = metrics[metric]
    if lower_is_better(metric):
        passed = value <= bound
        verb = "is within" if passed else "exceeds"
        return GateCheck("threshold", metric, passed, f"{metric} {_fmt(value)} {verb} the ceiling of {_fmt(bound)}.")
    passed = value >= bound
    verb = "meets" if passed else "is below"
    return GateCheck("threshold", metric, passed, f"{metric} {_fmt(value)} {verb} the floor of {_fmt(bound)}.")


def _primary_metric_missing(metric: str, problem_type: ProblemType) -> GateCheck:
    if metric not in METRICS[problem_type]:
        reason = f"The primary metric {metric} is not a {problem_type} metric."
    else:
        reason = f"The primary metric {metric} is undefined for this model on the test split."
    return GateCheck("primary", metric, False, reason)


def _champion_check(
    metric: str, metrics: dict[str, float], champion_metrics: dict[str, float], champion_label: str, max_regression: float
) -> GateCheck:
    if metric not in metrics:
        return GateCheck("champion", metric, False, f"The challenger's {metric} is undefined, so it cannot be compared with {champion_label}.")
    if metric not in champion_metrics:
        return GateCheck("champion", metric, False, f"{champion_label} has no {metric} on the test split, so the challenger cannot be compared with it.")
    challenger_value, champion_value = metrics[metric], champion_metrics[metric]
    # Positive regression means the challenger is worse, whichever way the metric points.
    regression = challenger_value - champion_value if lower_is_better(metric) else champion_value - challenger_value
    comparison = f"{metric} {_fmt(challenger_value)} against {champion_label}'s {_fmt(champion_value)}"
    if regression > max_regression:
        return GateCheck(
            "champion", metric, False,
            f"{comparison} is {_fmt(regression)} worse, more than the allowed regression of {_fmt(max_regression)}.",
        )
    if regression > 0:
        return GateCheck(
            "champion", metric, True,
            f"{comparison} is {_fmt(regression)} worse, within the allowed regression of {_fmt(max_regression)}.",
        )
    return GateCheck("champion", metric, True, f"{comparison} is no worse than the champion.")


def decide(
    gates: GateConfig,
    problem_type: ProblemType,
    metrics: dict[str, float],
    champion_metrics: dict[str, float] | None,
    champion_label: str | None = None,
    primary_interval: tuple[float, float] | None = None,
) -> GateDecision:
    """Absolute thresholds always; the relative gate against the champion only when one is serving."""
    primary = gates.primary_metric
    checks = [_threshold_check(metric, bound, metrics, problem_type) for metric, bound in gates.thresholds.items()]
    if primary not in gates.thresholds and primary not in metrics:
        checks.append(_primary_metric_missing(primary, problem_type))
    notes = []
    if champion_metrics is not None:
        label = champion_label or "the champion"
        checks.append(_champion_check(primary, metrics, champion_metrics, label, gates.max_regression))
    else:
        notes.append("No model is serving yet, so only the absolute thresholds apply.")

    failed = [c for c in checks if not c.passed]
    passed = not failed
    primary_text = f"{primary} {_fmt(metrics[primary])}" if primary in metrics else primary
    if primary_interval is not None and primary in metrics:
        primary_text += f" ({CONFIDENCE_LEVEL:.0%} CI {_fmt(primary_interval[0])} to {_fmt(primary_interval[1])})"
    if passed:
        reasons = [c.reason for c in checks] + notes
        against = (
            f"and is within {_fmt(gates.max_regression)} of {champion_label or 'the champion'}"
            if champion_metrics is not None
            else "and no champion is serving"
        )
        summary = f"Passed: {primary_text} meets every threshold {against}."
    else:
        reasons = [c.reason for c in failed]
        more = f" (and {len(failed) - 1} more failed gate{'s' if len(failed) > 2 else ''})" if len(failed) > 1 else ""
        summary = f"Failed with {primary_text}: {failed[0].reason.rstrip('.')}{more}."
    return GateDecision(passed=passed, checks=checks, reasons=reasons, summary=summary, notes=notes)
