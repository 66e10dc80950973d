"""The scheduled drift monitor: new captured traffic vs. the serving model's training profile.

One run: find what serves on the endpoint (and publish its version for the dashboard) and the
profile of the data it was trained on, read the capture objects written since the watermark,
measure drift on their live rows, publish the metrics the drift alarm watches, write a report,
and move the watermark past what was read.
The watermark moves last, so a run that fails part way is repeated, not lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.common import s3_layout
from functions.common.capture import (
    CaptureReadTally,
    CaptureRecord,
    CaptureRecordError,
    read_capture_records,
    request_rows,
)
from functions.common.config import PipelineConfig
from functions.common.deployed_version import parse_model_version, publish_deployed_version
from functions.common.errors import PipelineError
from functions.common.metrics_publishing import (
    ENDPOINT_DIMENSION,
    FEATURE_DIMENSION,
    MetricValue,
    publish_metrics,
)
from functions.common.serving_model import SERVING_STATUSES, endpoint_exists
from functions.monitor_drift.drift_monitor import MIN_ROWS_FOR_DRIFT, DriftAssessment, assess_drift
from functions.monitor_drift.watermark import capture_objects_since, load_watermark, save_watermark
from functions.monitor_drift.settings import DriftMonitorSettings

DRIFT_WATERMARK_KEY = "monitoring/drift-watermark.json"
DRIFT_REPORTS_PREFIX = f"{s3_layout.REPORTS_PREFIX}monitoring/drift/"
REPORT_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
# One run reads at most this many capture objects, oldest first; the next run goes on from there.
MAX_CAPTURE_OBJECTS_PER_RUN = 2000
MAX_UNREADABLE_EXAMPLES = 5

FEATURE_PSI_METRIC = "FeaturePSI"
DRIFTED_FEATURE_FRACTION_METRIC = "DriftedFeatureFraction"
MAX_FEATURE_PSI_METRIC = "MaxFeaturePSI"
CAPTURED_ROWS_METRIC = "CapturedRows"


class BaselineUnavailableError(PipelineError):
    """The serving model names a training profile that cannot be read."""


@dataclass(frozen=True)
class ServingModel:
    endpoint_name: str
    endpoint_config_name: str
    variant_name: str
    model_name: str
    model_package_arn: str | None
    model_version: str | None


@dataclass(frozen=True)
class NotServing:
    reason: str


def find_serving_model(sagemaker: Any, endpoint_name: str) -> ServingModel | NotServing:
    if not endpoint_exists(sagemaker, endpoint_name):
        return NotServing(f"endpoint {endpoint_name} does not exist; no model is serving")
    endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    status = endpoint["EndpointStatus"]
    if status not in SERVING_STATUSES:
        return NotServing(f"endpoint {endpoint_name} is {status}; no model is serving")
    config_name = endpoint["EndpointConfigName"]
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name).get("ProductionVariants", [])
    if not variants:
        return NotServing(f"endpoint config {config_name} has no production variant")
    variant = variants[0]
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    environment = (model.get("PrimaryContainer") or {}).get("Environment", {})
    return ServingModel(
        endpoint_name=endpoint_name,
        endpoint_config_name=config_name,
        variant_name=variant["VariantName"],
        model_name=variant["ModelName"],
        model_package_arn=environment.get("MODEL_PACKAGE_ARN"),
        model_version=environment.get("MODEL_VERSION"),
    )


def baseline_profile_uri(sagemaker: Any, serving: ServingModel) -> str | NotServing:
    if not serving.model_package_arn:
        return NotServing(f"model {serving.model_name} has no MODEL_PACKAGE_ARN, so its training profile is unknown")
    try:
        package = sagemaker.describe_model_package(ModelPackageName=serving.model_package_arn)
    except (ClientError, BotoCoreError) as error:
        raise BaselineUnavailableError(
            f"cannot describe model package {serving.model_package_arn} serving on {serving.endpoint_name}: {error}"
        ) from error
    profile_uri = (package.get("CustomerMetadataProperties") or {}).get("profile_uri")
    if not profile_uri:
        return NotServing(f"model package {serving.model_package_arn} has no profile_uri to compare traffic with")
    return profile_uri


def load_profile(s3: Any, profile_uri: str) -> dict[str, Any]:
    try:
        bucket, key = s3_layout.split_uri(profile_uri)
        profile = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ValueError, ClientError, BotoCoreError) as error:
        raise BaselineUnavailableError(f"cannot read the training profile {profile_uri}: {error}") from error
    if not isinstance(profile, dict) or not isinstance(profile.get("columns"), dict):
        raise BaselineUnavailableError(f"{profile_uri} is not a data profile (no columns)")
    return profile


def drift_report_key(now: datetime) -> str:
    return f"{DRIFT_REPORTS_PREFIX}{now.strftime(REPORT_TIMESTAMP_FORMAT)}.json"


def drift_metric_values(endpoint_name: str, assessment: DriftAssessment) -> list[MetricValue]:
    endpoint = (ENDPOINT_DIMENSION, endpoint_name)
    values = [
        MetricValue(FEATURE_PSI_METRIC, psi, (endpoint, (FEATURE_DIMENSION, feature)))
        for feature, psi in assessment.feature_psi.items()
    ]
    values += [
        MetricValue(DRIFTED_FEATURE_FRACTION_METRIC, assessment.drifted_feature_fraction, (endpoint,)),
        MetricValue(MAX_FEATURE_PSI_METRIC, assessment.max_feature_psi, (endpoint,)),
        MetricValue(CAPTURED_ROWS_METRIC, assessment.rows, (endpoint,), unit="Count"),
    ]
    return values


def _live_rows(records: Iterable[CaptureRecord], feature_names: list[str], tally: CaptureReadTally) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for record in records:
        where = f"inference {record.inference_id or record.event_id}"
        if record.request is None:
            tally.unreadable(where, "record has no endpointInput", MAX_UNREADABLE_EXAMPLES)
            continue
        try:
            rows.extend(request_rows(record.request, feature_names))
        except CaptureRecordError as error:
            tally.unreadable(where, str(error), MAX_UNREADABLE_EXAMPLES)
    return rows


def run_drift_monitor(
    config: PipelineConfig, settings: DriftMonitorSettings, *, s3: Any, sagemaker: Any, cloudwatch: Any, now: datetime
) -> dict[str, Any]:
    summary: dict[str, Any] = {"endpoint_name": settings.endpoint_name, "checked_at": now.isoformat()}
    serving = find_serving_model(sagemaker, settings.endpoint_name)
    if isinstance(serving, NotServing):
        return {**summary, "status": "skipped", "reason": serving.reason}
    summary.update(model_version=serving.model_version, model_package_arn=serving.model_package_arn)
    deployed_version = parse_model_version(serving.model_version)
    if deployed_version is not None:
        publish_deployed_version(cloudwatch, settings.metrics_namespace, settings.endpoint_name, deployed_version, now)
    profile_uri = baseline_profile_uri(sagemaker, serving)
    if isinstance(profile_uri, NotServing):
        return {**summary, "status": "skipped", "reason": profile_uri.reason}
    baseline = load_profile(s3, profile_uri)
    summary["baseline_profile_uri"] = profile_uri

    watermark = load_watermark(s3, settings.data_bucket, DRIFT_WATERMARK_KEY)
    objects = capture_objects_since(s3, settings.data_bucket, settings.endpoint_name, watermark)
    objects = objects[:MAX_CAPTURE_OBJECTS_PER_RUN]
    tally = CaptureReadTally()
    records = read_capture_records(s3, settings.data_bucket, objects, tally, MAX_UNREADABLE_EXAMPLES)
    rows = _live_rows(records, [column.name for column in config.dataset.feature_columns], tally)
    summary.update(captured_rows=len(rows), capture=tally.as_dict())

    if len(rows) < MIN_ROWS_FOR_DRIFT:
        publish_metrics(
            cloudwatch,
            settings.metrics_namespace,
            [MetricValue(CAPTURED_ROWS_METRIC, len(rows), ((ENDPOINT_DIMENSION, settings.endpoint_name),), unit="Count")],
            now,
        )
        # The watermark stays, so rows accumulate over runs until there are enough to measure.
        return {
            **summary,
            "status": "insufficient_rows",
            "reason": (
                f"{len(rows)} live row(s) captured since the last measurement; drift needs at least "
                f"{MIN_ROWS_FOR_DRIFT}, so only {CAPTURED_ROWS_METRIC} was published"
            ),
        }

    assessment = assess_drift(rows, baseline, config.dataset, config.drift)
    report_key = drift_report_key(now)
    report = {
        **summary,
        "status": "measured",
        "drift": assessment.to_dict(),
        "thresholds": config.drift.model_dump(),
        "capture_objects": [item.key for item in objects],
    }
    s3.put_object(
        Bucket=settings.data_bucket,
        Key=report_key,
        Body=json.dumps(report, indent=2, default=str).encode("utf-8"),
        ContentType="application/json",
    )
    publish_metrics(cloudwatch, settings.metrics_namespace, drift_metric_values(settings.endpoint_name, assessment), now)
    advanced = watermark.advanced_to(objects)
    save_watermark(s3, settings.data_bucket, DRIFT_WATERMARK_KEY, advanced, now)
    return {
        **summary,
        "status": "measured",
        "drifted_feature_fraction": assessment.drifted_feature_fraction,
        "max_feature_psi": assessment.max_feature_psi,
        "drifted_features": assessment.drifted_features,
        "alarming": assessment.alarming,
        "report_uri": s3_layout.s3_uri(settings.data_bucket, report_key),
        "watermark": advanced.to_dict(now),
    }
