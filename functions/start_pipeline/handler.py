"""Lambda entry point between the trigger rules and the training state machine: an EventBridge
event (an upload, an approval) -> one execution named after the event's id."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.aws_clients import aws_client
from functions.common.event_ownership import StackScope
from functions.common.handler import Deferred, InvocationTracer, ignore_foreign_event, pipeline_handler

if TYPE_CHECKING:
    from functions.start_pipeline.settings import StartPipelineSettings

logger = Logger()
tracer = InvocationTracer()
metrics = Metrics()

METRIC_BY_OUTCOME = {"started": "ExecutionsStarted", "already_started": "RepeatedEventsSkipped"}


# A raised error makes Lambda retry the event and then send it to the dead-letter queue.
@pipeline_handler(
    settings_model=Deferred("functions.start_pipeline.settings", "StartPipelineSettings"),
    logger=logger,
    tracer=tracer,
    metrics=metrics,
    failure_log_message="pipeline_start_failed",
    failure_metric="PipelineStartErrors",
)
def lambda_handler(event: dict[str, Any], context: LambdaContext, settings: StartPipelineSettings) -> dict[str, Any]:
    # Imported by the first invocation rather than at import (see functions.common.handler.Deferred).
    from functions.common.eventbridge import EventBridgeEvent
    from functions.start_pipeline.starter import PipelineTrigger, foreign_event_reason, start_pipeline

    # Parsed for its id and source only: the state machine reads the event itself, so its
    # input is the event exactly as EventBridge delivered it.
    parsed = EventBridgeEvent.model_validate(event)
    logger.append_keys(event_id=parsed.id, event_source=parsed.source, detail_type=parsed.detail_type)
    mismatch = foreign_event_reason(
        event,
        StackScope.of_function(context.invoked_function_arn),
        data_bucket=settings.data_bucket,
        model_package_group=settings.model_package_group,
    )
    if mismatch:
        return ignore_foreign_event(logger, metrics, mismatch)
    trigger = PipelineTrigger(event_id=parsed.id, source=parsed.source, execution_input=json.dumps(event))
    start = start_pipeline(aws_client("stepfunctions"), settings.state_machine_arn, trigger)
    logger.info(
        "pipeline_execution_started" if start.outcome == "started" else "pipeline_execution_already_started",
        extra={"outcome": start.outcome, "execution_arn": start.execution_arn, "execution_name": start.execution_name},
    )
    metrics.add_metric(name=METRIC_BY_OUTCOME[start.outcome], unit=MetricUnit.Count, value=1)
    return start.model_dump(mode="json")
