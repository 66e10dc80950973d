"""Model metrics: predictions lined up with their labels, and every metric of a problem type.

The promotion gates (evaluate_model) and the live quality monitor (monitor_quality) compute
their metrics here, so a live accuracy means what the gate's accuracy means.

Pure numpy: Lambda has no scikit-learn and no scipy. Every metric follows the definition
scikit-learn uses (the tests compare against it), so numbers agree with a notebook.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from functions.common.config import ProblemType
from functions.common.errors import PipelineError

CALIBRATION_BINS = 10
# Probabilities are clipped away from 0 and 1 so one confident mistake gives a large, finite log loss.
LOG_LOSS_EPSILON = 1e-15


class PredictionsMismatchError(PipelineError):
    """Predictions do not line up with the test rows (row count, classes, or values)."""


@dataclass(frozen=True)
class ModelPredictions:
    """One model's predictions on the test rows, in test row order.

    For classification, `labels` are canonical label strings and `probabilities[:, j]` is the
    probability of `classes[j]`; for regression, `labels` are the predicted values.
    """

    labels: np.ndarray
    classes: tuple[str, ...] = ()
    probabilities: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)


def canonical_label(value: Any) -> str:
    """One spelling per class label, whichever way a CSV reader or JSON encoder typed it ("1", 1, 1.0)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isfinite(number) and number.is_integer():
        return str(int(number))
    return text


def canonical_labels(values: Iterable[Any]) -> np.ndarray:
    return np.array([canonical_label(v) for v in values], dtype=object)


def _label_sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def sorted_labels(labels: Iterable[str]) -> list[str]:
    return sorted(set(labels), key=_label_sort_key)


def positive_class_for(categories: Sequence[str] | None, observed: Iterable[str]) -> str:
    """The schema's last category, else the largest observed label (scikit-learn's pos_label convention)."""
    if categories:
        return canonical_label(categories[-1])
    labels = sorted_labels(observed)
    if not labels:
        raise PredictionsMismatchError("no class labels to choose a positive class from")
    return labels[-1]


# --- prepared rows: the arrays each metric needs, with a `take` for bootstrap resampling ---------


@dataclass(frozen=True)
class BinaryRows:
    y: np.ndarray  # 1 for the positive class
    y_hat: np.ndarray
    score: np.ndarray | None  # probability of the positive class
    labels: tuple[str, str]  # (negative, positive) for the confusion matrix

    def take(self, index: np.ndarray) -> BinaryRows:
        score = None if self.score is None else self.score[index]
        return BinaryRows(self.y[index], self.y_hat[index], score, self.labels)

    @property
    def size(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class MulticlassRows:
    y: np.ndarray  # index into classes
    y_hat: np.ndarray
    proba: np.ndarray | None  # (rows, classes), rows sum to 1
    classes: tuple[str, ...]

    def take(self, index: np.ndarray) -> MulticlassRows:
        proba = None if self.proba is None else self.proba[index]
        return MulticlassRows(self.y[index], self.y_hat[index], proba, self.classes)

    @property
    def size(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class RegressionRows:
    y: np.ndarray
    y_hat: np.ndarray

    def take(self, index: np.ndarray) -> RegressionRows:
        return RegressionRows(self.y[index], self.y_hat[index])

    @property
    def size(self) -> int:
        return len(self.y)


Rows = BinaryRows | MulticlassRows | RegressionRows


def _aligned_probabilities(predictions: ModelPredictions, classes: Sequence[str]) -> np.ndarray | None:
    if predictions.probabilities is None:
        return None
    given = np.asarray(predictions.probabilities, dtype=float)
    if given.ndim != 2 or given.shape != (len(predictions), len(predictions.classes)):
        raise PredictionsMismatchError(
            f"probabilities have shape {given.shape}, expected ({len(predictions)}, {len(predictions.classes)})"
        )
    if not np.all(np.isfinite(given)):
        raise PredictionsMismatchError("probabilities contain missing or infinite values")
    aligned = np.zeros((len(predictions), len(classes)), dtype=float)
    position = {label: j for j, label in enumerate(classes)}
    for j, label in enumerate(predictions.classes):
        aligned[:, position[label]] = given[:, j]
    return aligned


def prepare_rows(
    problem_type: ProblemType,
    y_true: Sequence[Any] | np.ndarray,
    predictions: ModelPredictions,
    positive_class: str | None = None,
) -> Rows:
    """Line up truth and predictions; raises PredictionsMismatchError when they cannot be compared."""
    if len(y_true) != len(predictions):
        raise PredictionsMismatchError(
            f"{len(predictions)} predictions for {len(y_true)} test rows; they must match row for row"
        )
    if len(y_true) == 0:
        raise PredictionsMismatchError("the test split has no rows")
    if problem_type == "regression":
        y = np.asarray(y_true, dtype=float)
        y_hat = np.asarray(predictions.labels, dtype=float)
        if not (np.all(np.isfinite(y)) and np.all(np.isfinite(y_hat))):
            raise PredictionsMismatchError("regression targets or predictions contain missing values")
        return RegressionRows(y, y_hat)

    truth = canonical_labels(y_true)
    predicted = canonical_labels(predictions.labels)
    model_classes = tuple(canonical_label(c) for c in predictions.classes)
    predictions = ModelPredictions(predictions.labels, model_classes, predictions.probabilities)
    classes = tuple(sorted_labels([*truth, *predicted, *model_classes]))
    proba = _aligned_probabilities(predictions, classes)

    if problem_type == "binary":
        positive = positive_class or positive_class_for(None, classes)
        negatives = [c for c in classes if c != positive]
        negative = negatives[0] if negatives else "not " + positive
        score = None
        if proba is not None and positive in classes:
            score = np.clip(proba[:, classes.index(positive)], 0.0, 1.0)
        return BinaryRows(
            y=(truth == positive).astype(np.int8),
            y_hat=(predicted == positive).astype(np.int8),
            score=score,
            labels=(negative, positive),
        )

    index = {label: j for j, label in enumerate(classes)}
    if proba is not None:
        totals = proba.sum(axis=1, keepdims=True)
        proba = np.divide(proba, totals, out=np.full_like(proba, 1.0 / len(classes)), where=totals > 0)
    return MulticlassRows(
        y=np.array([index[label] for label in truth], dtype=np.int64),
        y_hat=np.array([index[label] for label in predicted], dtype=np.int64),
        proba=proba,
        classes=classes,
    )


# --- metric definitions -----------------------------------------------------------------------


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (scipy.stats.rankdata's default)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts_group = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = ((starts + 1 + ends) / 2.0)[group]
    return ranks


def binary_roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return math.nan
    ranks = _average_ranks(score)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def threshold_counts(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positive counts at each distinct score threshold, highest threshold first."""
    order = np.argsort(-score, kind="mergesort")
    ordered_score = score[order]
    ordered_y = y[order]
    last_of_threshold = np.r_[ordered_score[1:] != ordered_score[:-1], True]
    true_positives = np.cumsum(ordered_y)[last_of_threshold]
    false_positives = np.arange(1, len(y) + 1)[last_of_threshold] - true_positives
    return true_positives.astype(float), false_positives.astype(float)


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    positives = int(y.sum())
    if positives == 0:
        return math.nan
    true_positives, false_positives = threshold_counts(y, score)
    precision = true_positives / (true_positives + false_positives)
    recall = true_positives / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _ratio(numerator: float, denominator: float) -> float:
    # scikit-learn's zero_division default: an undefined precision/recall/F1 counts as 0.
    return float(numerator / denominator) if denominator else 0.0


def _binary_counts(rows: BinaryRows) -> tuple[int, int, int, int]:
    tp = int(np.sum((rows.y == 1) & (rows.y_hat == 1)))
    fp = int(np.sum((rows.y == 0) & (rows.y_hat == 1)))
    fn = int(np.sum((rows.y == 1) & (rows.y_hat == 0)))
    tn = int(np.sum((rows.y == 0) & (rows.y_hat == 0)))
    return tp, fp, fn, tn


def _binary_f1(rows: BinaryRows) -> float:
    tp, fp, fn, _ = _binary_counts(rows)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def _binary_precision(rows: BinaryRows) -> float:
    tp, fp, _, _ = _binary_counts(rows)
    return _ratio(tp, tp + fp)


def _binary_recall(rows: BinaryRows) -> float:
    tp, _, fn, _ = _binary_counts(rows)
    return _ratio(tp, tp + fn)


def _binary_log_loss(rows: BinaryRows) -> float:
    p = np.clip(rows.score, LOG_LOSS_EPSILON, 1 - LOG_LOSS_EPSILON)
    return float(-np.mean(rows.y * np.log(p) + (1 - rows.y) * np.log(1 - p)))


def expected_calibration_error(y: np.ndarray, score: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Sum over equal-width probability bins of (bin share) x |observed rate - mean predicted probability|."""
    p = np.clip(score, 0.0, 1.0)
    bin_index = np.minimum((p * bins).astype(int), bins - 1)
    observed = np.bincount(bin_index, weights=y.astype(float), minlength=bins)
    predicted = np.bincount(bin_index, weights=p, minlength=bins)
    return float(np.sum(np.abs(observed - predicted)) / len(y))


def _macro_f1(rows: MulticlassRows) -> float:
    present = np.union1d(rows.y, rows.y_hat)
    scores = []
    for label in present:
        tp = np.sum((rows.y == label) & (rows.y_hat == label))
        fp = np.sum((rows.y != label) & (rows.y_hat == label))
        fn = np.sum((rows.y == label) & (rows.y_hat != label))
        scores.append(_ratio(2 * tp, 2 * tp + fp + fn))
    return float(np.mean(scores))


def _multiclass_log_loss(rows: MulticlassRows) -> float:
    p = np.clip(rows.proba[np.arange(rows.size), rows.y], LOG_LOSS_EPSILON, 1.0)
    return float(-np.mean(np.log(p)))


def _macro_roc_auc_ovr(rows: MulticlassRows) -> float:
    present = np.unique(rows.y)
    if len(present) < 2:
        return math.nan
    return float(np.mean([binary_roc_auc((rows.y == label).astype(np.int8), rows.proba[:, label]) for label in present]))


def _r2(rows: RegressionRows) -> float:
    residual = float(np.sum((rows.y - rows.y_hat) ** 2))
    total = float(np.sum((rows.y - rows.y.mean()) ** 2))
    if total == 0.0:
        # scikit-learn's force_finite convention for a constant target.
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


@dataclass(frozen=True)
class MetricDefinition:
    compute: Callable[[Any], float]
    needs_probabilities: bool = False


METRICS: dict[str, dict[str, MetricDefinition]] = {
    "binary": {
        "roc_auc": MetricDefinition(lambda r: binary_roc_auc(r.y, r.score), needs_probabilities=True),
        "pr_auc": MetricDefinition(lambda r: average_precision(r.y, r.score), needs_probabilities=True),
        "f1": MetricDefinition(_binary_f1),
        "precision": MetricDefinition(_binary_precision),
        "recall": MetricDefinition(_binary_recall),
        "accuracy": MetricDefinition(lambda r: float(np.mean(r.y == r.y_hat))),
        "log_loss": MetricDefinition(_binary_log_loss, needs_probabilities=True),
        "brier": MetricDefinition(lambda r: float(np.mean((r.score - r.y) ** 2)), needs_probabilities=True),
        "calibration_error": MetricDefinition(
            lambda r: expected_calibration_error(r.y, r.score), needs_probabilities=True
        ),
    },
    "multiclass": {
        "accuracy": MetricDefinition(lambda r: float(np.mean(r.y == r.y_hat))),
        "f1_macro": MetricDefinition(_macro_f1),
        "log_loss": MetricDefinition(_multiclass_log_loss, needs_probabilities=True),
        "roc_auc_ovr": MetricDefinition(_macro_roc_auc_ovr, needs_probabilities=True),
    },
    "regression": {
        "rmse": MetricDefinition(lambda r: float(np.sqrt(np.mean((r.y - r.y_hat) ** 2)))),
        "mae": MetricDefinition(lambda r: float(np.mean(np.abs(r.y - r.y_hat)))),
        "r2": MetricDefinition(_r2),
    },
}


def problem_type_of(rows: Rows) -> ProblemType:
    if isinstance(rows, BinaryRows):
        return "binary"
    if isinstance(rows, MulticlassRows):
        return "multiclass"
    return "regression"


def _has_probabilities(rows: Rows) -> bool:
    if isinstance(rows, BinaryRows):
        return rows.score is not None
    if isinstance(rows, MulticlassRows):
        return rows.proba is not None
    return False


def available_metrics(rows: Rows) -> list[str]:
    definitions = METRICS[problem_type_of(rows)]
    with_probabilities = _has_probabilities(rows)
    return [name for name, d in definitions.items() if with_probabilities or not d.needs_probabilities]


def compute_metric(rows: Rows, name: str) -> float:
    return METRICS[problem_type_of(rows)][name].compute(rows)


def compute_metrics(rows: Rows) -> dict[str, float]:
    """Every metric that is defined on these rows; undefined ones (e.g. AUC with one class) are left out."""
    values = {name: compute_metric(rows, name) for name in available_metrics(rows)}
    return {name: value for name, value in values.items() if math.isfinite(value)}
