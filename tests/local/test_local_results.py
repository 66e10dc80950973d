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
