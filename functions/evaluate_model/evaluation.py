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


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"


@dataclass(frozen=True)
class GateCheck:
    gate: str  # "threshold", "primary", "suspect_labels", "reference" or "improvement"
    metric: str
    passed: bool
    reason: str  # one sentence


@dataclass(frozen=True)
class Comparison:
    """The challenger and the champion on the same rows, by the primary metric."""

    rows_name: str  # "the new test rows", "the reference holdout"
    rows: int
    challenger: float | None
    champion: float | None

    @property
    def gain(self) -> float | None:
        """How much better the challenger is (negative: worse), whichever way the metric points."""
        if self.challenger is None or self.champion is None:
            return None
        return self.champion - self.challenger if self._lower_is_better else self.challenger - self.champion

    _lower_is_better: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows_name,
            "row_count": self.rows,
            "challenger": self.challenger,
            "champion": self.champion,
            "gain": self.gain,
        }


@dataclass(frozen=True)
class ChampionEvidence:
    """What the training job measured of the serving version: the primary metric on the new
    test rows, on the reference holdout for both models (None without one), and the score it
    was registered with."""

    label: str
    new_rows: Comparison
    reference: Comparison | None
    registered_score: float | None


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    checks: list[GateCheck]
    reasons: list[str]
    summary: str
    notes: list[str] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)


def comparison(metric: str, rows_name: str, rows: int, challenger: dict[str, float], champion: dict[str, float]) -> Comparison:
    return Comparison(rows_name, rows, challenger.get(metric), champion.get(metric), _lower_is_better=lower_is_better(metric))


def _signed(value: float) -> str:
    return f"{value:+.4f}"


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


def _drop(metric: str, anchor: float, value: float) -> float:
    """How far `value` fell below `anchor` (positive: worse), as a fraction of the anchor, so
    one setting serves bounded metrics (AUC) and unbounded ones (RMSE) alike."""
    worse = value - anchor if lower_is_better(metric) else anchor - value
    return worse / abs(anchor) if anchor else worse


def _suspect_labels_check(metric: str, evidence: ChampionEvidence, gates: GateConfig) -> GateCheck | None:
    """The champion scores far below its registered score on the new rows while it still holds
    on the trusted reference holdout: the new labels contradict a model that still works."""
    new_score = evidence.new_rows.champion
    reference_score = evidence.reference.champion if evidence.reference is not None else None
    if new_score is None or reference_score is None:
        return None
    anchor = evidence.registered_score if evidence.registered_score is not None else reference_score
    collapse = _drop(metric, anchor, new_score)
    reference_drop = _drop(metric, anchor, reference_score)
    holds = reference_drop <= gates.suspect_label_drop / 2
    if collapse > gates.suspect_label_drop and holds:
        return GateCheck(
            "suspect_labels", metric, False,
            f"Suspect labels: {evidence.label} scores {metric} {_fmt(new_score)} on the new test rows, "
            f"{collapse:.0%} worse than its registered {_fmt(anchor)} (more than {gates.suspect_label_drop:.0%}), "
            f"while it still scores {_fmt(reference_score)} on the reference holdout; the new labels contradict "
            "a model that still works, so the upload is held for a person to check (swapped or relabelled classes?).",
        )
    return GateCheck(
        "suspect_labels", metric, True,
        f"{evidence.label} scores {metric} {_fmt(new_score)} on the new test rows against its registered {_fmt(anchor)}; "
        "the new labels do not contradict it.",
    )


def _reference_check(metric: str, evidence: ChampionEvidence, max_regression: float) -> GateCheck:
    reference = evidence.reference
    if reference is None or reference.gain is None:
        return GateCheck(
            "reference", metric, False,
            f"The reference holdout has no {metric} for both models, so a regression on trusted rows cannot be ruled out.",
        )
    text = (
        f"On the reference holdout ({reference.rows} rows) {metric} {_fmt(reference.challenger)} against "
        f"{evidence.label}'s {_fmt(reference.champion)} ({_signed(reference.gain)})"
    )
    if -reference.gain > max_regression:
        return GateCheck(
            "reference", metric, False,
            f"Regression on the reference holdout: {text[0].lower()}{text[1:]} is worse by more than the allowed "
            f"{_fmt(max_regression)}.",
        )
    return GateCheck("reference", metric, True, f"{text}, within the allowed regression of {_fmt(max_regression)}.")


def _improvement_check(metric: str, evidence: ChampionEvidence, min_improvement: float) -> GateCheck:
    new_rows = evidence.new_rows
    if new_rows.challenger is None:
        return GateCheck("improvement", metric, False, f"The challenger's {metric} is undefined, so it cannot be compared with {evidence.label}.")
    if new_rows.gain is None:
        return GateCheck("improvement", metric, False, f"{evidence.label} has no {metric} on the new test rows, so the challenger cannot be compared with it.")
    text = (
        f"on the new test rows ({new_rows.rows}) {metric} {_fmt(new_rows.challenger)} against {evidence.label}'s "
        f"{_fmt(new_rows.champion)} ({_signed(new_rows.gain)}), where the margin is more than {_signed(min_improvement)}"
    )
    if new_rows.gain <= min_improvement:
        return GateCheck("improvement", metric, False, f"No improvement: {text}.")
    return GateCheck("improvement", metric, True, f"Better than the champion: {text}.")


def decide(
    gates: GateConfig,
    problem_type: ProblemType,
    metrics: dict[str, float],
    champion: ChampionEvidence | None,
    primary_interval: tuple[float, float] | None = None,
) -> GateDecision:
    """Absolute thresholds always; with a champion serving, also the guard against suspect
    labels, no regression beyond max_regression on the reference holdout, and an improvement
    of more than min_improvement on the new test rows."""
    primary = gates.primary_metric
    checks: list[GateCheck] = []
    notes: list[str] = []
    comparisons: list[Comparison] = []
    if champion is not None:
        suspect = _suspect_labels_check(primary, champion, gates)
        if suspect is not None:
            checks.append(suspect)
        checks.append(_reference_check(primary, champion, gates.max_regression))
        checks.append(_improvement_check(primary, champion, gates.min_improvement))
        comparisons = [champion.new_rows] + ([champion.reference] if champion.reference is not None else [])
    else:
        notes.append("No model is serving yet, so only the absolute thresholds apply.")
    checks += [_threshold_check(metric, bound, metrics, problem_type) for metric, bound in gates.thresholds.items()]
    if primary not in gates.thresholds and primary not in metrics:
        checks.append(_primary_metric_missing(primary, problem_type))

    failed = [c for c in checks if not c.passed]
    passed = not failed
    headline = _headline(primary, metrics, champion, gates, primary_interval)
    if passed:
        reasons = [c.reason for c in checks] + notes
        tail = "every threshold is met" if champion is not None else "meets every threshold and no champion is serving"
        summary = f"Passed: {headline}; {tail}."
    else:
        reasons = [c.reason for c in failed]
        more = f" (and {len(failed) - 1} more failed gate{'s' if len(failed) > 2 else ''})" if len(failed) > 1 else ""
        summary = f"Rejected, {failed[0].reason[0].lower()}{failed[0].reason[1:].rstrip('.')}{more}. {headline}."
    return GateDecision(passed=passed, checks=checks, reasons=reasons, summary=summary, notes=notes, comparisons=comparisons)


def _headline(
    primary: str,
    metrics: dict[str, float],
    champion: ChampionEvidence | None,
    gates: GateConfig,
    primary_interval: tuple[float, float] | None,
) -> str:
    """The primary metric, the margin and both comparisons, in one clause: what a person reads first."""
    if champion is None:
        text = f"{primary} {_fmt(metrics[primary])}" if primary in metrics else primary
        if primary_interval is not None and primary in metrics:
            text += f" ({CONFIDENCE_LEVEL:.0%} CI {_fmt(primary_interval[0])} to {_fmt(primary_interval[1])})"
        return text
    parts = [f"{primary}, margin {_signed(gates.min_improvement)}"]
    for compared in [champion.new_rows, champion.reference]:
        if compared is None:
            parts.append("no reference holdout")
            continue
        challenger = _fmt(compared.challenger) if compared.challenger is not None else "undefined"
        champion_score = _fmt(compared.champion) if compared.champion is not None else "undefined"
        gain = f" ({_signed(compared.gain)})" if compared.gain is not None else ""
        parts.append(f"{compared.rows_name} {challenger} vs {champion.label} {champion_score}{gain}")
    return "; ".join(parts)
