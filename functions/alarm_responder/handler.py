"""Lambda entry point: EventBridge "CloudWatch Alarm State Change" -> AlarmDecision."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.alarm_responder.actions import AwsClients, ResponderSettings, respond
from functions.alarm_responder.responder import AlarmStateChangeEvent
from functions.common.config import load_packaged_config
from functions.common.environment import require_env

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# One alarm transition is one (alarm name, state timestamp) pair, whatever EventBridge retries.
IDEMPOTENCY_KEY_JMESPATH = "[alarm_name, state.timestamp]"
IDEMPOTENCY_KEY_PREFIX = "alarm-transition"
# EventBridge retries for up to a day; a transition never recurs, so its record can outlive that.
IDEMPOTENCY_RECORD_TTL_SECONDS = 7 * 24 * 60 * 60


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=AlarmStateChangeEvent)
def lambda_handler(event: AlarmStateChangeEvent, context: LambdaContext) -> dict[str, Any]:
    settings = ResponderSettings.from_environment()
    idempotency_table = require_env("IDEMPOTENCY_TABLE")
    config = load_packaged_config()

    idempotency_config = IdempotencyConfig(
        event_key_jmespath=IDEMPOTENCY_KEY_JMESPATH,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_RECORD_TTL_SECONDS,
    )
    idempotency_config.register_lambda_context(context)
    respond_once = idempotent_function(
        respond,
        data_keyword_argument="change",
        persistence_store=DynamoDBPersistenceLayer(table_name=idempotency_table),
        config=idempotency_config,
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
    )
    decision = respond_once(
        change=event.detail,
        config=config,
        settings=settings,
        clients=AwsClients(
            s3=boto3.client("s3"),
            sagemaker=boto3.client("sagemaker"),
            sns=boto3.client("sns"),
            cloudwatch=boto3.client("cloudwatch"),
        ),
        responder_id=context.invoked_function_arn,
        alarm_arn=next(iter(event.resources), None),
        now=datetime.now(UTC),
    )
    metrics.add_dimension(name="action", value=decision["action"])
    metrics.add_metric(name="AlarmDecisions", unit=MetricUnit.Count, value=1)
    return decision
