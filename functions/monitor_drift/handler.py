"""Lambda entry point of the drift monitor, run by an EventBridge schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from functions.common.aws_clients import aws_client
from functions.common.config import load_packaged_config
from functions.common.event_ownership import StackScope, origin_mismatch
from functions.common.handler import InvocationTracer, ignore_foreign_event, parsed_event, pipeline_handler
from functions.monitor_drift.service import run_drift_monitor
from functions.monitor_drift.settings import DriftMonitorSettings

logger = Logger()
tracer = InvocationTracer()
metrics = Metrics()


class ScheduledInvocation(BaseModel):
    """An EventBridge "Scheduled Event": the run depends on nothing in it but where it comes from."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    time: str | None = None
    account: str = ""
    region: str = ""


# A failed run leaves the watermark where it was; the Lambda Errors metric shows the failure.
@pipeline_handler(
    settings_model=DriftMonitorSettings,
    logger=logger,
    tracer=tracer,
    metrics=metrics,
    failure_log_message="drift_monitor_failed",
)
@parsed_event(model=ScheduledInvocation)
def lambda_handler(event: ScheduledInvocation, context: LambdaContext, settings: DriftMonitorSettings) -> dict[str, Any]:
    mismatch = origin_mismatch(
        StackScope.of_function(context.invoked_function_arn), account=event.account, region=event.region
    )
    if mismatch:
        return ignore_foreign_event(logger, metrics, mismatch, event_id=event.id)
    summary = run_drift_monitor(
        load_packaged_config(),
        settings,
        s3=aws_client("s3"),
        sagemaker=aws_client("sagemaker"),
        cloudwatch=aws_client("cloudwatch"),
        now=datetime.now(UTC),
    )
    logger.info(
        "drift_monitored",
        extra={key: summary.get(key) for key in ("status", "reason", "captured_rows", "drifted_feature_fraction",
                                                 "max_feature_psi", "drifted_features", "report_uri")},
    )
    return summary
