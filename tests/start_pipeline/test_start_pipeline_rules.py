"""Naming an execution after its event, and treating a repeated event as started already,
against a stub Step Functions client (no network)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from functions.start_pipeline.starter import (
    MAX_EXECUTION_NAME_CHARS,
    PipelineStartError,
    PipelineTrigger,
    execution_arn,
    execution_name,
    start_pipeline,
)

STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:mlops-training-pipeline"
EVENT_ID = "5f3d2a1b-8c4e-4f6a-9b7d-2e1c0a9f8e7d"
# What Step Functions accepts as an execution name.
VALID_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
# sha256(b"id/with:colons"), then the kind of event.
UNNAMEABLE_ID_UPLOAD_NAME = "d761a41cf887eea23188418947c27733463bbf1fbeb8a6f134d344b8727efe2c-upload"


class StubStepFunctions:
    """Answers StartExecution as a STANDARD state machine does, by name: the running
    execution for the same name and input, ExecutionAlreadyExists for other input."""

    def __init__(self, error_code: str | None = None) -> None:
        self.error_code = error_code
        self.executions: dict[str, str] = {}
        self.calls: list[dict[str, Any]] = []

    def start_execution(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        if self.error_code:
            raise ClientError({"Error": {"Code": self.error_code, "Message": "refused"}}, "StartExecution")
        name, given = request["name"], request["input"]
        if self.executions.setdefault(name, given) != given:
            raise ClientError(
                {"Error": {"Code": "ExecutionAlreadyExists", "Message": "Execution Already Exists"}}, "StartExecution"
            )
        return {"executionArn": execution_arn(request["stateMachineArn"], name), "startDate": "2026-01-12T08:15:31Z"}


def _trigger(event_id: str = EVENT_ID, execution_input: str = '{"id": "event"}') -> PipelineTrigger:
    return PipelineTrigger(event_id=event_id, source="aws.s3", execution_input=execution_input)


@pytest.mark.parametrize(
    "event_id",
    [
        EVENT_ID,
        "a" * 200,
        "id with spaces/and:colons",
        "ünïcödé",
        "",
        "x" * (MAX_EXECUTION_NAME_CHARS - len("-approval")),
        "x" * (MAX_EXECUTION_NAME_CHARS - len("-approval") + 1),
    ],
)
@pytest.mark.parametrize("source", ["aws.s3", "aws.sagemaker", "com.example.other"])
def test_every_name_is_one_step_functions_accepts(event_id, source):
    assert VALID_NAME.fullmatch(execution_name(event_id, source))


def test_a_name_is_the_event_id_then_the_kind_of_event():
    assert execution_name(EVENT_ID, "aws.s3") == f"{EVENT_ID}-upload"
    assert execution_name(EVENT_ID, "aws.sagemaker") == f"{EVENT_ID}-approval"
    assert execution_name(EVENT_ID, "com.example.other") == f"{EVENT_ID}-event"


def test_the_same_event_gets_the_same_name_every_time():
    assert {execution_name(EVENT_ID, "aws.s3") for _ in range(3)} == {f"{EVENT_ID}-upload"}
    # Pinned: a per-process hash() would name a redelivery reaching another Lambda instance differently.
    assert execution_name("id/with:colons", "aws.s3") == UNNAMEABLE_ID_UPLOAD_NAME


def test_different_events_get_different_names():
    ids = [str(uuid.uuid4()) for _ in range(200)]
    unnameable = ["a/b", "a:b", "a b", "a" * 100, "a" * 101]

    names = {execution_name(event_id, "aws.s3") for event_id in ids + unnameable}

    assert len(names) == len(ids) + len(unnameable)


def test_the_first_characters_of_the_name_are_the_event_ids():
    # Job and model names keep the first characters of the execution name.
    assert execution_name(EVENT_ID, "aws.s3")[:8] == EVENT_ID[:8]


def test_the_execution_arn_is_the_state_machines_with_the_name():
    assert execution_arn(STATE_MACHINE_ARN, "n-upload") == (
        "arn:aws:states:us-east-1:123456789012:execution:mlops-training-pipeline:n-upload"
    )


def test_an_event_starts_an_execution_named_after_it_with_the_event_as_input():
    sfn = StubStepFunctions()

    start = start_pipeline(sfn, STATE_MACHINE_ARN, _trigger(execution_input='{"id": "5f3d", "detail": {}}'))

    assert sfn.calls == [
        {"stateMachineArn": STATE_MACHINE_ARN, "name": f"{EVENT_ID}-upload", "input": '{"id": "5f3d", "detail": {}}'}
    ]
    assert start.outcome == "started"
    assert start.execution_arn == execution_arn(STATE_MACHINE_ARN, f"{EVENT_ID}-upload")
    assert start.event_id == EVENT_ID


def test_a_repeat_the_running_execution_answers_is_the_same_execution():
    sfn = StubStepFunctions()

    first = start_pipeline(sfn, STATE_MACHINE_ARN, _trigger())
    again = start_pipeline(sfn, STATE_MACHINE_ARN, _trigger())

    assert again == first
    assert len(sfn.executions) == 1


def test_execution_already_exists_is_the_existing_execution_not_an_error():
    sfn = StubStepFunctions()
    first = start_pipeline(sfn, STATE_MACHINE_ARN, _trigger())

    again = start_pipeline(sfn, STATE_MACHINE_ARN, _trigger(execution_input='{"id": "event", "replay": true}'))

    assert again.outcome == "already_started"
    assert again.execution_arn == first.execution_arn
    assert again.execution_name == first.execution_name
    assert len(sfn.executions) == 1


@pytest.mark.parametrize("error_code", ["AccessDeniedException", "StateMachineDoesNotExist", "ThrottlingException"])
def test_other_refusals_are_a_typed_error(error_code):
    with pytest.raises(PipelineStartError) as raised:
        start_pipeline(StubStepFunctions(error_code), STATE_MACHINE_ARN, _trigger())

    assert isinstance(raised.value.__cause__, ClientError)


def test_an_unreachable_service_is_a_typed_error():
    class Unreachable:
        def start_execution(self, **request: Any) -> dict[str, Any]:
            raise EndpointConnectionError(endpoint_url="https://states.us-east-1.amazonaws.com")

    with pytest.raises(PipelineStartError):
        start_pipeline(Unreachable(), STATE_MACHINE_ARN, _trigger())
