"""Lambda entry point of the quality monitor: EventBridge S3 "Object Created" under ground-truth/."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field

from functions.common.config import load_packaged_config
from functions.common.environment import require_env
from functions.common.errors import PipelineError
from functions.monitor_quality.ground_truth import GroundTruthFormatError
from functions.monitor_quality.service import (
    GroundTruthObject,
    QualityMonitorSettings,
    record_rejection,
    run_quality_monitor,
)

logger = Logger()
tracer = Tracer()

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Bucket(_Lenient):
    name: str


class _Object(_Lenient):
    key: str
    version_id: str | None = Field(default=None, alias="version-id")


class _Detail(_Lenient):
    bucket: _Bucket
    object: _Object


class GroundTruthCreatedEvent(_Lenient):
    """The EventBridge event S3 sends when an object is created (detail-type "Object Created")."""

    detail: _Detail


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@event_parser(model=GroundTruthCreatedEvent)
def lambda_handler(event: GroundTruthCreatedEvent, context: LambdaContext) -> dict[str, Any]:
    source = GroundTruthObject(event.detail.bucket.name, event.detail.object.key, event.detail.object.version_id)
    logger.append_keys(ground_truth_uri=source.uri)
    try:
        settings = QualityMonitorSettings(
            data_bucket=require_env("DATA_BUCKET"),
            endpoint_name=require_env("ENDPOINT_NAME"),
            metrics_namespace=require_env("METRICS_NAMESPACE"),
        )
        s3 = boto3.client("s3", config=CLIENT_CONFIG)
        now = datetime.now(UTC)
        try:
            summary = run_quality_monitor(
                source,
                load_packaged_config(),
                settings,
                s3=s3,
                cloudwatch=boto3.client("cloudwatch", config=CLIENT_CONFIG),
                now=now,
            )
        except GroundTruthFormatError as error:
            # The file will not read better on a retry: record why and finish.
            summary = record_rejection(source, error, settings, s3=s3, now=now)
            logger.warning("ground_truth_rejected", extra={"check": error.check, "reason": str(error)})
            return summary
    except PipelineError as error:
        logger.error("quality_monitor_failed", extra={"error_type": type(error).__name__, "reason": str(error)})
        raise
    logger.info(
        "quality_monitored",
        extra={key: summary.get(key) for key in ("status", "reason", "labelled_rows", "unjoined_rows", "metrics",
                                                 "report_uri")},
    )
    return summary
