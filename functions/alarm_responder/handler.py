"""Lambda entry point: EventBridge "CloudWatch Alarm State Change" -> AlarmDecision."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.aws_clients import aws_client
from functions.common.event_ownership import StackScope, alarm_mismatch
from functions.common.handler import Deferred, InvocationTracer, ignore_foreign_event, parsed_event, pipeline_handler

if TYPE_CHECKING:
    from functions.alarm_responder.responder import AlarmStateChangeEvent
    from functions.alarm_responder.settings import ResponderSettings

logger = Logger()
tracer = InvocationTracer()
metrics = Metrics()

# One alarm transition is one (alarm name, state timestamp) pair, whatever EventBridge retries.
IDEMPOTENCY_KEY_JMESPATH = "[alarm_name, state.timestamp]"
IDEMPOTENCY_KEY_PREFIX = "alarm-transition"
# EventBridge retries for up to a day; a transition never recurs, so its record can outlive that.
IDEMPOTENCY_RECORD_TTL_SECONDS = 7 * 24 * 60 * 60


@pipeline_handler(
    settings_model=Deferred("functions.alarm_responder.settings", "ResponderSettings"),
    logger=logger,
    tracer=tracer,
    metrics=metrics,
    failure_log_message="alarm_response_failed",
)
@parsed_event(model=Deferred("functions.alarm_responder.responder", "AlarmStateChangeEvent"))
def lambda_handler(event: AlarmStateChangeEvent, context: LambdaContext, settings: ResponderSettings) -> dict[str, Any]:
    mismatch = alarm_mismatch(
        StackScope.of_function(context.invoked_function_arn),
        account=event.account,
        region=event.region,
        resources=event.resources,
        alarm_name=event.detail.alarm_name,
        stack_alarm_arns=settings.stack_alarm_arns,
    )
    if mismatch:
        return ignore_foreign_event(logger, metrics, mismatch, event_id=event.id)
    # Imported here: an event that is not the stack's needs neither the config nor the actions
    # nor the idempotency table.
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    from functions.alarm_responder.actions import AwsClients, respond_to_transition
    from functions.common.config import load_packaged_config

    config = load_packaged_config()

    idempotency_config = IdempotencyConfig(
        event_key_jmespath=IDEMPOTENCY_KEY_JMESPATH,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_RECORD_TTL_SECONDS,
    )
    idempotency_config.register_lambda_context(context)
    respond_once = idempotent_function(
        respond_to_transition,
        data_keyword_argument="transition",
        persistence_store=DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table, boto3_client=aws_client("dynamodb")
        ),
        config=idempotency_config,
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
    )
    decision = respond_once(
        transition=event.detail.model_dump(mode="json"),
        config=config,
        settings=settings,
        clients=AwsClients(
            s3=aws_client("s3"),
            sagemaker=aws_client("sagemaker"),
            sns=aws_client("sns"),
            cloudwatch=aws_client("cloudwatch"),
        ),
        responder_id=context.invoked_function_arn,
        alarm_arn=next(iter(event.resources), None),
        now=datetime.now(UTC),
    )
    metrics.add_dimension(name="action", value=decision["action"])
    metrics.add_metric(name="AlarmDecisions", unit=MetricUnit.Count, value=1)
    return decision
