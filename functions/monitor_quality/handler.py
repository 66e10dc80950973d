"""Lambda entry point of the quality monitor: EventBridge S3 "Object Created" under ground-truth/."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from functions.common.aws_clients import aws_client
from functions.common.config import load_packaged_config
from functions.common.event_ownership import StackScope, object_mismatch
from functions.common.handler import InvocationTracer, ignore_foreign_event, parsed_event, pipeline_handler
from functions.common.s3_layout import GROUND_TRUTH_PREFIX
from functions.monitor_quality.ground_truth import GroundTruthFormatError
from functions.monitor_quality.service import (
    GroundTruthObject,
    record_rejection,
    run_quality_monitor,
)
from functions.monitor_quality.settings import QualityMonitorSettings

logger = Logger()
tracer = InvocationTracer()
metrics = Metrics()


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

    account: str = ""
    region: str = ""
    detail: _Detail


# A failed run is raised so Lambda retries the event and then sends it to the failure queue.
@pipeline_handler(
    settings_model=QualityMonitorSettings,
    logger=logger,
    tracer=tracer,
    metrics=metrics,
    failure_log_message="quality_monitor_failed",
)
@parsed_event(model=GroundTruthCreatedEvent)
def lambda_handler(event: GroundTruthCreatedEvent, context: LambdaContext, settings: QualityMonitorSettings) -> dict[str, Any]:
    mismatch = object_mismatch(
        StackScope.of_function(context.invoked_function_arn),
        account=event.account,
        region=event.region,
        bucket=event.detail.bucket.name,
        key=event.detail.object.key,
        stack_bucket=settings.data_bucket,
        prefixes=[GROUND_TRUTH_PREFIX],
    )
    if mismatch:
        return ignore_foreign_event(logger, metrics, mismatch)
    source = GroundTruthObject(event.detail.bucket.name, event.detail.object.key, event.detail.object.version_id)
    logger.append_keys(ground_truth_uri=source.uri)
    s3 = aws_client("s3")
    now = datetime.now(UTC)
    try:
        summary = run_quality_monitor(
            source, load_packaged_config(), settings, s3=s3, cloudwatch=aws_client("cloudwatch"), now=now
        )
    except GroundTruthFormatError as error:
        # The file will not read better on a retry: record why and finish.
        summary = record_rejection(source, error, settings, s3=s3, now=now)
        logger.warning("ground_truth_rejected", extra={"check": error.check, "reason": str(error)})
        return summary
    logger.info(
        "quality_monitored",
        extra={key: summary.get(key) for key in ("status", "reason", "labelled_rows", "unjoined_rows", "metrics",
                                                 "report_uri")},
    )
    return summary
