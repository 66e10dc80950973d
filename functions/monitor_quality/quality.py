"""Live model quality: ground-truth labels joined to the predictions the endpoint returned. Pure.

A label joins a captured request by its inference id (the capture record's inferenceId, or its
eventId when the caller set none). A request that returned several predictions cannot be
matched to one label and is counted as ambiguous. Metrics are computed with the evaluation
step's definitions (functions/common/model_metrics.py), so a live accuracy means what the
promotion gate's accuracy means.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from functions.common.capture import (
    CaptureReadTally,
    CapturedPredictions,
    CaptureRecord,
    CaptureRecordError,
    response_predictions,
)
from functions.common.config import DatasetSchema
from functions.common.model_metrics import (
    ModelPredictions,
    canonical_label,
    compute_metrics,
    positive_class_for,
    prepare_rows,
)

# Below this many labelled predictions a live metric is too noisy to alarm on.
MIN_LABELLED_ROWS_FOR_QUALITY = 30
MAX_UNJOINED_EXAMPLES = 5


@dataclass(frozen=True)
class LabelledPrediction:
    inference_id: str
    label: Any
    prediction: Any
    probabilities: list[float] | None
    classes: tuple[str, ...]


@dataclass
class JoinResult:
    joined: list[LabelledPrediction] = field(default_factory=list)
    unjoined: int = 0
    ambiguous: int = 0
    invalid_labels: int = 0
    unjoined_examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "joined": len(self.joined),
            "unjoined": self.unjoined,
            "ambiguous": self.ambiguous,
            "invalid_labels": self.invalid_labels,
            "unjoined_examples": list(self.unjoined_examples),
        }


def index_predictions(
    records: Iterable[CaptureRecord], wanted_ids: set[str], tally: CaptureReadTally, max_examples: int
) -> dict[str, CapturedPredictions]:
    """The captured predictions of the requests whose inferenceId (or eventId) is wanted."""
    found: dict[str, CapturedPredictions] = {}
    for record in records:
        identifier = next(
            (value for value in (record.inference_id, record.event_id) if value in wanted_ids and value not in found),
            None,
        )
        if identifier is None:
            continue
        if record.response is None:
            tally.unreadable(f"inference {identifier}", "record has no endpointOutput", max_examples)
            continue
        try:
            found[identifier] = response_predictions(record.response)
        except CaptureRecordError as error:
            tally.unreadable(f"inference {identifier}", str(error), max_examples)
    return found


def _finite_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def join_labels(
    labels: Mapping[str, Any], predictions: Mapping[str, CapturedPredictions], schema: DatasetSchema
) -> JoinResult:
    result = JoinResult()
    regression = schema.problem_type == "regression"
    for inference_id, label in labels.items():
        captured = predictions.get(inference_id)
        if captured is None:
            result.unjoined += 1
            if len(result.unjoined_examples) < MAX_UNJOINED_EXAMPLES:
                result.unjoined_examples.append(inference_id)
            continue
        if len(captured.predictions) != 1:
            result.ambiguous += 1
            continue
        prediction = captured.predictions[0]
        if regression and not (_finite_number(label) and _finite_number(prediction)):
            result.invalid_labels += 1
            continue
        probabilities = captured.probabilities[0] if captured.probabilities is not None else None
        result.joined.append(LabelledPrediction(inference_id, label, prediction, probabilities, captured.classes))
    return result


def _shared_probabilities(joined: list[LabelledPrediction]) -> tuple[tuple[str, ...], np.ndarray | None]:
    """Probabilities only when every joined prediction has them over the same classes."""
    classes = {item.classes for item in joined}
    if len(classes) != 1 or any(item.probabilities is None for item in joined):
        return (), None
    return next(iter(classes)), np.array([item.probabilities for item in joined], dtype=float)


def live_metrics(joined: list[LabelledPrediction], schema: DatasetSchema) -> dict[str, float]:
    """Every metric of the problem type that is defined on these rows (e.g. AUC needs both classes)."""
    problem_type = schema.problem_type
    if problem_type == "regression":
        y_true = np.array([float(item.label) for item in joined])
        predictions = ModelPredictions(np.array([float(item.prediction) for item in joined]))
        return compute_metrics(prepare_rows(problem_type, y_true, predictions))
    classes, probabilities = _shared_probabilities(joined)
    predictions = ModelPredictions(
        np.array([item.prediction for item in joined], dtype=object), classes, probabilities
    )
    y_true = [item.label for item in joined]
    positive = None
    if problem_type == "binary":
        observed = [canonical_label(value) for value in [*y_true, *predictions.labels, *classes]]
        positive = positive_class_for(schema.column(schema.target).categories, observed)
    return compute_metrics(prepare_rows(problem_type, y_true, predictions, positive))
