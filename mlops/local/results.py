"""What one upload came to, read back from its execution the way a person would read it in the
Step Functions console: the final state, the state document, and the per-state timeline."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from functions.common.outcome import Outcome

FAILED_EXECUTION_STATUSES = {"FAILED", "TIMED_OUT", "ABORTED"}


@dataclass
class StateTiming:
    name: str
    status: str
    seconds: float


@dataclass
class UploadResult:
    file: str
    outcome: Outcome
    reason: str | None
    execution: dict[str, Any] | None
    # What decided the outcome, first: see `outcome_decision`.
    decision: dict[str, Any] | None = None
    validation: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    model_version: int | None = None
    approval_status: str | None = None
    endpoint: dict[str, Any] | None = None
    quarantine_uri: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record.update(record.pop("extra"))
        return record

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str, sort_keys=False)


def timeline(history: list[dict[str, Any]]) -> list[StateTiming]:
    entered: dict[str, datetime] = {}
    failed: set[str] = set()
    order: list[StateTiming] = []
    current: str | None = None
    for event in history:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
            entered[current] = event["timestamp"]
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            status = "failed" if name in failed else "succeeded"
            order.append(StateTiming(name, status, _seconds(entered.pop(name, event["timestamp"]), event["timestamp"])))
        elif kind.endswith("Failed") and kind not in ("ExecutionFailed",) and current:
            failed.add(current)
    end = history[-1]["timestamp"] if history else None
    for name, started in entered.items():
        order.append(StateTiming(name, "failed", _seconds(started, end)))
    return order


def state_document(described: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    """The execution's final state document: its output, or the input of the state it ended in."""
    if described.get("output"):
        return json.loads(described["output"])
    for event in reversed(history):
        details = event.get("stateEnteredEventDetails")
        if details and details.get("input"):
            return json.loads(details["input"])
    return {}


def upload_result(
    file: str, described: dict[str, Any], history: list[dict[str, Any]], endpoint: dict[str, Any] | None
) -> UploadResult:
    document = state_document(described, history)
    status = described["status"]
    if status in FAILED_EXECUTION_STATUSES:
        outcome = Outcome.FAILED
        reason = _failure_reason(described, document)
    else:
        result = document.get("result") or {}
        outcome, reason = _recorded_outcome(result)
    validation = document.get("validation") or None
    evaluation = document.get("evaluation") or None
    registration = document.get("registration") or {}
    rollback_cause = _rollback_cause(described, endpoint)
    if rollback_cause and reason and rollback_cause not in reason:
        reason = f"{reason.rstrip('.')}: {rollback_cause}"
    return UploadResult(
        file=file,
        outcome=outcome,
        reason=reason,
        execution={
            "arn": described["executionArn"],
            "status": status,
            "states": [asdict(timing) for timing in timeline(history)],
        },
        decision=outcome_decision(evaluation, rollback_cause),
        validation=_validation_summary(validation),
        evaluation=_evaluation_summary(evaluation),
        model_version=registration.get("model_version"),
        approval_status=registration.get("approval_status"),
        endpoint=endpoint,
        quarantine_uri=(validation or document.get("batch") or {}).get("quarantine_uri"),
        extra=_batch_summary(document),
    )


def _batch_summary(document: dict[str, Any]) -> dict[str, Any]:
    """Where a batch upload's predictions and report are (nothing for a training upload)."""
    plan, scored = document.get("batch") or {}, document.get("batch_result") or {}
    if not plan:
        return {}
    return {
        "predictions_uri": scored.get("predictions_uri"),
        "batch_report_uri": scored.get("report_uri") or plan.get("report_uri"),
        "model_version": scored.get("model_version") or (plan.get("model") or {}).get("model_version"),
    }


def _recorded_outcome(result: dict[str, Any]) -> tuple[Outcome, str | None]:
    """The outcome and reason a succeeded execution recorded in `$.result`."""
    try:
        outcome = Outcome(result.get("outcome"))
    except ValueError:
        recorded = result.get("outcome")
        if recorded is None:
            return Outcome.FAILED, "The execution ended without recording an outcome."
        return Outcome.FAILED, f"The execution recorded an outcome this version does not know: {recorded!r}."
    if outcome is Outcome.DEPLOYED:
        return outcome, None
    if outcome is Outcome.FAILED and not result.get("reason"):
        return outcome, "The execution ended without recording an outcome."
    return outcome, result.get("reason")


def not_started_result(file: str, reason: str) -> UploadResult:
    return UploadResult(file=file, outcome=Outcome.FAILED, reason=reason, execution=None)


def _validation_summary(validation: dict[str, Any] | None) -> dict[str, Any] | None:
    if validation is None:
        return None
    return {
        "passed": validation.get("outcome") == "accepted",
        "outcome": validation.get("outcome"),
        "dataset_version": validation.get("dataset_version"),
        "quarantined_rows": validation.get("quarantined_rows") or 0,
        "quarantined_rows_uri": validation.get("quarantined_rows_uri"),
        "errors": [
            {"check": e.get("check"), "column": e.get("column"), "message": e.get("message")}
            for e in validation.get("errors") or []
        ],
        "warnings": [
            {"check": w.get("check"), "column": w.get("column"), "message": w.get("message")}
            for w in validation.get("warnings") or []
        ],
        "report_uri": validation.get("report_uri"),
    }


# The Fail state a deployment SageMaker rolled back ends in (infra/constructs/training_workflow/deployment.py).
DEPLOYMENT_ROLLED_BACK_ERROR = "DeploymentRolledBack"


def outcome_decision(evaluation: dict[str, Any] | None, rollback_cause: str | None = None) -> dict[str, Any] | None:
    """What decided an upload's outcome, from the evaluation's fields: the gate's primary metric
    for challenger and champion, the challenger's interval, the margin between them, the verdict
    and its sentence; and what rolled a deployment back. One place, so the console and the JSON
    lead with the same facts."""
    if evaluation is None and rollback_cause is None:
        return None
    decision: dict[str, Any] = {}
    if evaluation is not None:
        primary = evaluation.get("primary_metric")
        metrics = evaluation.get("metrics") or {}
        champion_metrics = evaluation.get("champion_metrics") or {}
        challenger_value = metrics.get(primary)
        champion_value = champion_metrics.get(primary)
        interval = (evaluation.get("confidence_intervals") or {}).get(primary)
        decision.update({
            "primary_metric": primary,
            "challenger": challenger_value,
            "challenger_interval": list(interval) if interval else None,
            "champion": champion_value,
            "champion_version": evaluation.get("champion_version"),
            "margin": (
                challenger_value - champion_value
                if isinstance(challenger_value, (int, float)) and isinstance(champion_value, (int, float))
                else None
            ),
            "passed": evaluation.get("passed"),
            "summary": evaluation.get("summary"),
        })
    if rollback_cause is not None:
        decision["rollback_cause"] = rollback_cause
    return decision


def _rollback_cause(described: dict[str, Any], endpoint: dict[str, Any] | None) -> str | None:
    """The endpoint's FailureReason after SageMaker rolled an update back (it names the alarm)."""
    if described.get("error") != DEPLOYMENT_ROLLED_BACK_ERROR:
        return None
    return (endpoint or {}).get("failure_reason") or "SageMaker gave no reason (no FailureReason on the endpoint)"


def _evaluation_summary(evaluation: dict[str, Any] | None) -> dict[str, Any] | None:
    if evaluation is None:
        return None
    return {
        "primary_metric": evaluation.get("primary_metric"),
        "confidence_intervals": evaluation.get("confidence_intervals") or {},
        "summary": evaluation.get("summary"),
        "metrics": evaluation.get("metrics"),
        "champion_metrics": evaluation.get("champion_metrics"),
        "champion_version": evaluation.get("champion_version"),
        "passed": evaluation.get("passed"),
        "reasons": evaluation.get("reasons") or [],
        "report_uri": evaluation.get("report_uri"),
    }


def _failure_reason(described: dict[str, Any], document: dict[str, Any]) -> str:
    """The Fail state's error, with the detail the state document holds: the training,
    validation or transform job's FailureReason, why a batch could not be scored, or the error a
    Catch recorded."""
    error = described.get("error") or "ExecutionFailed"
    cause = described.get("cause") or ""
    detail = (
        (document.get("training") or {}).get("reason")
        or (document.get("processing") or {}).get("reason")
        or (document.get("transform") or {}).get("reason")
        or (document.get("batch") or {}).get("reason")
        or _caught_cause(document.get("error"))
    )
    if detail and detail not in cause:
        cause = f"{cause.rstrip('.')}: {detail}" if cause else detail
    return f"{error}: {cause}".strip().rstrip(":")


def _caught_cause(error: Any) -> str | None:
    if not isinstance(error, dict):
        return None
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return f"{error.get('Error')}: {cause}" if cause else error.get("Error")
    if isinstance(parsed, dict):
        message = parsed.get("errorMessage") or parsed.get("Cause") or cause
        return f"{parsed.get('errorType') or error.get('Error')}: {message}"
    return cause


def _seconds(start: datetime, end: datetime | None) -> float:
    if end is None:
        return 0.0
    return round((end - start).total_seconds(), 3)
