"""The quality monitor: one ground-truth file -> live metrics of the predictions it labels.

Labels usually arrive hours after the predictions, so the capture of the last
CAPTURE_LOOKBACK_HOURS is searched for the labelled inference ids. Each file gets a report
under reports/monitoring/quality/, the rejected ones included.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.common import s3_layout
from functions.common.capture import CaptureReadTally, list_capture_objects, read_capture_records
from functions.common.config import PipelineConfig
from functions.common.errors import PipelineError
from functions.common.metrics_publishing import (
    ENDPOINT_DIMENSION,
    METRIC_NAME_DIMENSION,
    MetricValue,
    publish_metrics,
)
from functions.monitor_quality.ground_truth import MAX_GROUND_TRUTH_BYTES, GroundTruthFormatError, parse_ground_truth
from functions.monitor_quality.quality import (
    MIN_LABELLED_ROWS_FOR_QUALITY,
    index_predictions,
    join_labels,
    live_metrics,
)
from functions.monitor_quality.settings import QualityMonitorSettings

QUALITY_REPORTS_PREFIX = f"{s3_layout.REPORTS_PREFIX}monitoring/quality/"
REPORT_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
# How long after a prediction its label may arrive and still be joined.
CAPTURE_LOOKBACK_HOURS = 72
MAX_CAPTURE_OBJECTS_FOR_JOIN = 5000
MAX_UNREADABLE_EXAMPLES = 5

MODEL_QUALITY_METRIC = "ModelQuality"
LABELLED_ROWS_METRIC = "LabelledRows"


class GroundTruthUnavailableError(PipelineError):
    """The ground-truth object named by the event cannot be read."""


@dataclass(frozen=True)
class GroundTruthObject:
    bucket: str
    key: str
    version_id: str | None = None

    @property
    def uri(self) -> str:
        return s3_layout.s3_uri(self.bucket, self.key)


def quality_report_key(now: datetime) -> str:
    return f"{QUALITY_REPORTS_PREFIX}{now.strftime(REPORT_TIMESTAMP_FORMAT)}.json"


def _write_report(s3: Any, bucket: str, now: datetime, report: dict[str, Any]) -> str:
    key = quality_report_key(now)
    body = json.dumps(report, indent=2, default=str).encode("utf-8")
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return s3_layout.s3_uri(bucket, key)


def read_ground_truth(s3: Any, source: GroundTruthObject) -> bytes:
    arguments: dict[str, Any] = {"Bucket": source.bucket, "Key": source.key}
    if source.version_id and source.version_id != "null":
        arguments["VersionId"] = source.version_id
    try:
        response = s3.get_object(**arguments)
        if response.get("ContentLength", 0) > MAX_GROUND_TRUTH_BYTES:
            raise GroundTruthFormatError(
                "file_too_large",
                f"{source.uri} has {response['ContentLength']} bytes; ground-truth files are limited to {MAX_GROUND_TRUTH_BYTES}",
            )
        return response["Body"].read()
    except (ClientError, BotoCoreError) as error:
        raise GroundTruthUnavailableError(f"cannot read {source.uri}: {error}") from error


def run_quality_monitor(
    source: GroundTruthObject,
    config: PipelineConfig,
    settings: QualityMonitorSettings,
    *,
    s3: Any,
    cloudwatch: Any,
    now: datetime,
) -> dict[str, Any]:
    summary: dict[str, Any] = {"endpoint_name": settings.endpoint_name, "ground_truth_uri": source.uri,
                               "checked_at": now.isoformat()}
    if not source.key.startswith(s3_layout.GROUND_TRUTH_PREFIX):
        return {**summary, "status": "skipped", "reason": f"{source.key} is not under {s3_layout.GROUND_TRUTH_PREFIX}"}
    labels = parse_ground_truth(read_ground_truth(s3, source))

    hours_from = now - timedelta(hours=CAPTURE_LOOKBACK_HOURS)
    objects = list_capture_objects(s3, settings.data_bucket, settings.endpoint_name, hours_from)
    # The newest capture is where recent labels most likely point.
    objects = objects[-MAX_CAPTURE_OBJECTS_FOR_JOIN:]
    tally = CaptureReadTally()
    records = read_capture_records(s3, settings.data_bucket, objects, tally, MAX_UNREADABLE_EXAMPLES)
    predictions = index_predictions(records, set(labels.labels), tally, MAX_UNREADABLE_EXAMPLES)
    join = join_labels(labels.labels, predictions, config.dataset)

    endpoint = (ENDPOINT_DIMENSION, settings.endpoint_name)
    values = [MetricValue(LABELLED_ROWS_METRIC, len(join.joined), (endpoint,), unit="Count")]
    metrics: dict[str, float] = {}
    if len(join.joined) >= MIN_LABELLED_ROWS_FOR_QUALITY:
        metrics = live_metrics(join.joined, config.dataset)
        values += [
            MetricValue(MODEL_QUALITY_METRIC, value, (endpoint, (METRIC_NAME_DIMENSION, name)))
            for name, value in metrics.items()
        ]
        status, reason = "measured", None
    else:
        status = "insufficient_labels"
        reason = (
            f"{len(join.joined)} label(s) joined to captured predictions; quality needs at least "
            f"{MIN_LABELLED_ROWS_FOR_QUALITY}, so only {LABELLED_ROWS_METRIC} was published"
        )
    summary.update(
        status=status,
        reason=reason,
        problem_type=config.dataset.problem_type,
        labelled_rows=len(join.joined),
        unjoined_rows=join.unjoined,
        ambiguous_rows=join.ambiguous,
        invalid_rows=labels.invalid_rows + join.invalid_labels,
        duplicate_ids=labels.duplicate_ids,
        metrics=metrics,
    )
    report = {
        **summary,
        "ground_truth": labels.to_dict(),
        "join": join.to_dict(),
        "capture": tally.as_dict(),
        "capture_window_from": hours_from.isoformat(),
    }
    summary["report_uri"] = _write_report(s3, settings.data_bucket, now, report)
    publish_metrics(cloudwatch, settings.metrics_namespace, values, now)
    return summary


def record_rejection(
    source: GroundTruthObject, error: GroundTruthFormatError, settings: QualityMonitorSettings, *, s3: Any, now: datetime
) -> dict[str, Any]:
    """A file that is not ground truth: a rejected outcome with its reason, recorded like the others."""
    summary = {
        "endpoint_name": settings.endpoint_name,
        "ground_truth_uri": source.uri,
        "checked_at": now.isoformat(),
        "status": "rejected",
        "check": error.check,
        "error_type": type(error).__name__,
        "reason": str(error),
    }
    summary["report_uri"] = _write_report(s3, settings.data_bucket, now, summary)
    return summary
