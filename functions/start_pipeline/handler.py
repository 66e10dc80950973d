"""Lambda entry point between the trigger rules and the training state machine: an EventBridge
event (an upload, an approval) -> one execution named after the event's id."""

from __future__ import annotations

import json
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from functions.common.environment import require_env
from functions.common.errors import PipelineError
from functions.start_pipeline.starter import PipelineTrigger, start_pipeline

logger = Logger()
tracer = Tracer()
metrics = Metrics()

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
METRIC_BY_OUTCOME = {"started": "ExecutionsStarted", "already_started": "RepeatedEventsSkipped"}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Parsed for its id and source only: the state machine reads the event itself, so its
    # input is the event exactly as EventBridge delivered it.
    parsed = parse(event=event, model=EventBridgeModel)
    logger.append_keys(event_id=parsed.id, event_source=parsed.source, detail_type=parsed.detail_type)
    trigger = PipelineTrigger(event_id=parsed.id, source=parsed.source, execution_input=json.dumps(event))
    try:
        state_machine_arn = require_env("STATE_MACHINE_ARN")
        start = start_pipeline(boto3.client("stepfunctions", config=CLIENT_CONFIG), state_machine_arn, trigger)
    except PipelineError as error:
        # Raised, so Lambda retries the event and then sends it to the dead-letter queue.
        logger.error("pipeline_start_failed", extra={"error_type": type(error).__name__, "reason": str(error)})
        metrics.add_metric(name="PipelineStartErrors", unit=MetricUnit.Count, value=1)
        raise
    logger.info(
        "pipeline_execution_started" if start.outcome == "started" else "pipeline_execution_already_started",
        extra={"outcome": start.outcome, "execution_arn": start.execution_arn, "execution_name": start.execution_name},
    )
    metrics.add_metric(name=METRIC_BY_OUTCOME[start.outcome], unit=MetricUnit.Count, value=1)
    return start.model_dump(mode="json")
