"""An execution's recorded outcome, read back as the one Outcome type."""

from __future__ import annotations

import json

import pytest

from functions.common.outcome import Outcome
from mlops.local.results import upload_result


def succeeded_with(result: dict | None) -> dict:
    output = {} if result is None else {"result": result}
    return {
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:machine:upload",
        "status": "SUCCEEDED",
        "output": json.dumps(output),
    }


@pytest.mark.parametrize("outcome", [o for o in Outcome if o is not Outcome.FAILED])
def test_each_recorded_outcome_reads_back_as_its_type(outcome):
    result = upload_result("a.csv", succeeded_with({"outcome": outcome.value, "reason": "why"}), [], None)

    assert result.outcome is outcome
    assert result.reason == (None if outcome is Outcome.DEPLOYED else "why")
    assert json.loads(result.to_json())["outcome"] == outcome.value


def test_an_execution_that_recorded_no_outcome_failed():
    result = upload_result("a.csv", succeeded_with(None), [], None)

    assert result.outcome is Outcome.FAILED
    assert result.reason == "The execution ended without recording an outcome."


def test_an_outcome_this_version_does_not_know_is_a_failure_that_names_it():
    result = upload_result("a.csv", succeeded_with({"outcome": "exploded", "reason": "?"}), [], None)

    assert result.outcome is Outcome.FAILED
    assert "'exploded'" in result.reason


def test_a_failed_transform_job_is_reported_with_its_reason_and_a_scored_batch_with_its_predictions():
    failed_document = {"batch": {"outcome": "accepted"}, "transform": {"status": "Failed", "reason": "ClientError: AccessDenied"}}
    from datetime import UTC, datetime

    history = [{"type": "TaskStateEntered", "timestamp": datetime(2026, 6, 1, tzinfo=UTC),
                "stateEnteredEventDetails": {"name": "Record batch failure", "input": json.dumps(failed_document)}}]
    described = {"executionArn": "arn:x", "status": "FAILED", "error": "BatchTransformFailed", "cause": "The transform job did not complete"}

    failed = upload_result("june.csv", described, history, None)

    assert failed.outcome is Outcome.FAILED
    assert failed.reason == "BatchTransformFailed: The transform job did not complete: ClientError: AccessDenied"

    scored = upload_result("june.csv", {**succeeded_with({"outcome": "scored", "reason": "5 of 5 rows scored"}),
                                        "output": json.dumps({"result": {"outcome": "scored", "reason": "5 of 5 rows scored"},
                                                              "batch": {"model": {"model_version": 2}},
                                                              "batch_result": {"predictions_uri": "s3://b/predictions/june/x/predictions.csv"}})}, [], None)
    assert scored.outcome is Outcome.SCORED
    assert scored.to_dict()["predictions_uri"] == "s3://b/predictions/june/x/predictions.csv"
    assert scored.to_dict()["model_version"] == 2
