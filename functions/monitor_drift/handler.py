"""Lambda entry point of the drift monitor, run by an EventBridge schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from pydantic import BaseModel, ConfigDict

from functions.common.config import load_packaged_config
from functions.common.environment import require_env
from functions.common.errors import PipelineError
from functions.monitor_drift.service import DriftMonitorSettings, run_drift_monitor

logger = Logger()
tracer = Tracer()

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


class ScheduledInvocation(BaseModel):
    """An EventBridge "Scheduled Event"; the run does not depend on anything in it."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    time: str | None = None


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@event_parser(model=ScheduledInvocation)
def lambda_handler(event: ScheduledInvocation, context: LambdaContext) -> dict[str, Any]:
    try:
        settings = DriftMonitorSettings(
            data_bucket=require_env("DATA_BUCKET"),
            endpoint_name=require_env("ENDPOINT_NAME"),
            metrics_namespace=require_env("METRICS_NAMESPACE"),
        )
        summary = run_drift_monitor(
            load_packaged_config(),
            settings,
            s3=boto3.client("s3", config=CLIENT_CONFIG),
            sagemaker=boto3.client("sagemaker", config=CLIENT_CONFIG),
            cloudwatch=boto3.client("cloudwatch", config=CLIENT_CONFIG),
            now=datetime.now(UTC),
        )
    except PipelineError as error:
        # A failed run leaves the watermark where it was; the Lambda Errors metric shows the failure.
        logger.error("drift_monitor_failed", extra={"error_type": type(error).__name__, "reason": str(error)})
        raise
    logger.info(
        "drift_monitored",
        extra={key: summary.get(key) for key in ("status", "reason", "captured_rows", "drifted_feature_fraction",
                                                 "max_feature_psi", "drifted_features", "report_uri")},
    )
    return summary
