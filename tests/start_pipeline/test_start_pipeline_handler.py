"""The Start pipeline handler against moto's Step Functions: one execution per event, however
often EventBridge delivers it."""

from __future__ import annotations

import copy
import json

import pytest
from pydantic import ValidationError

from functions.common.errors import MissingEnvironmentError
from functions.start_pipeline.handler import lambda_handler
from functions.start_pipeline.starter import PipelineStartError
from tests.support.events import load_event

UPLOAD_EVENT = "start_pipeline_object_created"
APPROVAL_EVENT = "start_pipeline_model_package_approved"


def _executions(sfn, state_machine_arn):
    return sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]


def test_an_upload_event_starts_one_execution_named_after_it_with_the_event_as_input(sfn, state_machine_arn, context):
    event = load_event(UPLOAD_EVENT)

    result = lambda_handler(copy.deepcopy(event), context)

    [execution] = _executions(sfn, state_machine_arn)
    assert execution["name"] == f"{event['id']}-upload"
    assert result == {
        "outcome": "started",
        "execution_arn": execution["executionArn"],
        "execution_name": execution["name"],
        "event_id": event["id"],
    }
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == event


def test_the_same_upload_event_delivered_twice_starts_one_execution(sfn, state_machine_arn, context):
    event = load_event(UPLOAD_EVENT)

    first = lambda_handler(copy.deepcopy(event), context)
    second = lambda_handler(copy.deepcopy(event), context)

    [execution] = _executions(sfn, state_machine_arn)
    assert first["execution_arn"] == second["execution_arn"] == execution["executionArn"]


def test_a_repeat_after_the_execution_ended_is_already_started(sfn, state_machine_arn, context):
    event = load_event(UPLOAD_EVENT)
    first = lambda_handler(copy.deepcopy(event), context)
    sfn.stop_execution(executionArn=first["execution_arn"])

    again = lambda_handler(copy.deepcopy(event), context)

    assert again == {**first, "outcome": "already_started"}
    assert len(_executions(sfn, state_machine_arn)) == 1


def test_a_repeat_with_other_content_under_the_same_id_is_already_started(sfn, state_machine_arn, context):
    event = load_event(UPLOAD_EVENT)
    first = lambda_handler(copy.deepcopy(event), context)
    replayed = {**copy.deepcopy(event), "replay-name": "replay-of-january"}

    again = lambda_handler(replayed, context)

    assert again["outcome"] == "already_started"
    assert again["execution_arn"] == first["execution_arn"]
    assert len(_executions(sfn, state_machine_arn)) == 1


def test_two_events_start_two_executions(sfn, state_machine_arn, context):
    upload = load_event(UPLOAD_EVENT)
    other = {**copy.deepcopy(upload), "id": "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"}

    lambda_handler(upload, context)
    lambda_handler(other, context)

    assert len(_executions(sfn, state_machine_arn)) == 2


def test_an_approval_event_starts_an_approval_execution(sfn, state_machine_arn, context):
    event = load_event(APPROVAL_EVENT)

    result = lambda_handler(copy.deepcopy(event), context)

    assert result["execution_name"] == f"{event['id']}-approval"
    assert json.loads(sfn.describe_execution(executionArn=result["execution_arn"])["input"]) == event


def test_missing_state_machine_arn_is_a_typed_error_naming_it(sfn, state_machine_arn, context, monkeypatch):
    monkeypatch.delenv("STATE_MACHINE_ARN")

    with pytest.raises(MissingEnvironmentError) as raised:
        lambda_handler(load_event(UPLOAD_EVENT), context)

    assert raised.value.name == "STATE_MACHINE_ARN"


def test_an_unknown_state_machine_is_a_typed_error(sfn, state_machine_arn, context, monkeypatch):
    monkeypatch.setenv("STATE_MACHINE_ARN", state_machine_arn.replace("mlops-training-pipeline", "missing"))

    with pytest.raises(PipelineStartError):
        lambda_handler(load_event(UPLOAD_EVENT), context)


def test_an_event_without_an_id_is_refused(sfn, state_machine_arn, context):
    event = load_event(UPLOAD_EVENT)
    del event["id"]

    with pytest.raises(ValidationError):
        lambda_handler(event, context)

    assert _executions(sfn, state_machine_arn) == []


@pytest.mark.parametrize(
    ("event_name", "forge"),
    [
        pytest.param(UPLOAD_EVENT, lambda event: event.update(account="999999999999"), id="upload from another account"),
        pytest.param(UPLOAD_EVENT, lambda event: event.update(region="eu-west-1"), id="upload in another region"),
        pytest.param(UPLOAD_EVENT, lambda event: event["detail"]["bucket"].update(name="other"), id="another bucket"),
        pytest.param(UPLOAD_EVENT, lambda event: event["detail"]["object"].update(key="curated/x.csv"), id="not incoming"),
        pytest.param(UPLOAD_EVENT, lambda event: event.update(source="aws.sagemaker"), id="the upload's id as an approval"),
        pytest.param(UPLOAD_EVENT, lambda event: event.update(source="evil.example"), id="another source"),
        pytest.param(
            APPROVAL_EVENT,
            lambda event: event["detail"].update(ModelPackageGroupName="other-models"),
            id="approval in another group",
        ),
    ],
)
def test_an_event_that_is_not_the_stacks_starts_nothing(sfn, state_machine_arn, context, event_name, forge):
    # Given an event forged to look like an upload or an approval, but not of this stack
    event = load_event(event_name)
    forge(event)

    # When it reaches Start pipeline
    result = lambda_handler(copy.deepcopy(event), context)

    # Then no execution starts
    assert result["ignored"] is True
    assert _executions(sfn, state_machine_arn) == []


def test_the_stacks_own_approval_event_starts_an_execution(sfn, state_machine_arn, context):
    lambda_handler(load_event(APPROVAL_EVENT), context)

    [execution] = _executions(sfn, state_machine_arn)
    assert execution["name"].endswith("-approval")


def test_a_file_to_score_under_batch_starts_an_execution(sfn, state_machine_arn, context):
    event = load_event(UPLOAD_EVENT)
    event["detail"]["object"]["key"] = "batch/v2/june.csv"

    result = lambda_handler(copy.deepcopy(event), context)

    assert result["outcome"] == "started"
    [execution] = _executions(sfn, state_machine_arn)
    assert json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"]) == event
