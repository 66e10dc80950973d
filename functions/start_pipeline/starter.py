"""Start the training state machine once per EventBridge event.

EventBridge delivers an event at least once, and a repeated delivery carries the same event
id. The execution is named after that id, and Step Functions keeps one execution per name in
a STANDARD state machine: a repeat with the same input while the execution runs gets the
running execution back, any other repeat gets ExecutionAlreadyExists. Both mean the event has
its execution already. Receives its Step Functions client as an argument.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict

from functions.common.errors import PipelineError
from functions.common.event_ownership import StackScope, model_package_mismatch, object_mismatch
from functions.common.batch_layout import BATCH_PREFIX
from functions.common.s3_layout import INCOMING_PREFIX

MAX_EXECUTION_NAME_CHARS = 80
EXECUTION_NAME_CHARS = re.compile(r"[A-Za-z0-9_-]+")
# The kind follows the id: the pipeline's job and model names keep the first characters of
# the execution name, which the id makes distinct.
UPLOAD_SOURCE = "aws.s3"
UPLOAD_DETAIL_TYPE = "Object Created"
APPROVAL_SOURCE = "aws.sagemaker"
APPROVAL_DETAIL_TYPE = "SageMaker Model Package State Change"
KIND_BY_SOURCE = {UPLOAD_SOURCE: "upload", APPROVAL_SOURCE: "approval"}
OTHER_KIND = "event"
EXECUTION_ALREADY_EXISTS = "ExecutionAlreadyExists"

StartOutcome = Literal["started", "already_started"]


class PipelineStartError(PipelineError):
    """Step Functions refused to start the execution for a reason other than its existing already."""


@dataclass(frozen=True)
class PipelineTrigger:
    """One EventBridge event, as the execution's input carries it."""

    event_id: str
    source: str
    execution_input: str  # the event, unchanged, as JSON


class ExecutionStart(BaseModel):
    model_config = ConfigDict(frozen=True)

    # "started" also covers a repeat Step Functions answered with the execution it was
    # still running for the same name and input.
    outcome: StartOutcome
    execution_arn: str
    execution_name: str
    event_id: str


def foreign_event_reason(
    event: dict[str, Any], scope: StackScope, *, data_bucket: str, model_package_group: str
) -> str | None:
    """Why `event` is not one this stack starts an execution for, or None when it is: an
    "Object Created" under incoming/ or batch/ of the data bucket, or an approval in the stack's model
    package group, from the stack's own account and region."""
    source = event.get("source")
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    origin = {"account": str(event.get("account", "")), "region": str(event.get("region", ""))}
    if source == UPLOAD_SOURCE and event.get("detail-type") == UPLOAD_DETAIL_TYPE:
        bucket = detail.get("bucket") if isinstance(detail.get("bucket"), dict) else {}
        obj = detail.get("object") if isinstance(detail.get("object"), dict) else {}
        return object_mismatch(
            scope,
            **origin,
            bucket=str(bucket.get("name", "")),
            key=str(obj.get("key", "")),
            stack_bucket=data_bucket,
            prefixes=[INCOMING_PREFIX, BATCH_PREFIX],
        )
    if source == APPROVAL_SOURCE and event.get("detail-type") == APPROVAL_DETAIL_TYPE:
        return model_package_mismatch(
            scope, **origin, group=str(detail.get("ModelPackageGroupName", "")), stack_group=model_package_group
        )
    return f"the pipeline starts on no event of source {source!r} and type {event.get('detail-type')!r}"


def execution_name(event_id: str, source: str) -> str:
    """The same name for every delivery of one event, a different one for every other event:
    the id (or, when the id holds characters a name cannot, its SHA-256), then the kind."""
    suffix = f"-{KIND_BY_SOURCE.get(source, OTHER_KIND)}"
    fits = len(event_id) + len(suffix) <= MAX_EXECUTION_NAME_CHARS
    if not (fits and EXECUTION_NAME_CHARS.fullmatch(event_id)):
        event_id = hashlib.sha256(event_id.encode()).hexdigest()
    return f"{event_id}{suffix}"


def execution_arn(state_machine_arn: str, name: str) -> str:
    """arn:...:stateMachine:<machine> -> arn:...:execution:<machine>:<name>, as Step Functions names it."""
    prefix, machine = state_machine_arn.rsplit(":stateMachine:", 1)
    return f"{prefix}:execution:{machine}:{name}"


def start_pipeline(sfn: Any, state_machine_arn: str, trigger: PipelineTrigger) -> ExecutionStart:
    name = execution_name(trigger.event_id, trigger.source)
    try:
        started = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=trigger.execution_input)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != EXECUTION_ALREADY_EXISTS:
            raise PipelineStartError(f"cannot start {name} on {state_machine_arn}: {error}") from error
        return ExecutionStart(
            outcome="already_started",
            execution_arn=execution_arn(state_machine_arn, name),
            execution_name=name,
            event_id=trigger.event_id,
        )
    except BotoCoreError as error:
        raise PipelineStartError(f"cannot start {name} on {state_machine_arn}: {error}") from error
    return ExecutionStart(
        outcome="started", execution_arn=started["executionArn"], execution_name=name, event_id=trigger.event_id
    )
