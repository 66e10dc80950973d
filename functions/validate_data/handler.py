"""Lambda entry point of the "Validate data" state: parse, read env, build clients, delegate."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.config import load_packaged_config
from functions.common.contracts import ValidateDataRequest
from functions.common.environment import require_env
from functions.validate_data.service import validate_upload

logger = Logger()
tracer = Tracer()
metrics = Metrics()

OUTCOME_METRICS = {"accepted": "DataAccepted", "data_rejected": "DataRejected", "duplicate": "DuplicateUpload"}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ValidateDataRequest)
def lambda_handler(event: ValidateDataRequest, context: LambdaContext) -> dict[str, Any]:
    data_bucket = require_env("DATA_BUCKET")
    model_package_group = require_env("MODEL_PACKAGE_GROUP")
    config = load_packaged_config()
    result = validate_upload(
        event,
        config,
        s3=boto3.client("s3"),
        sagemaker=boto3.client("sagemaker"),
        data_bucket=data_bucket,
        model_package_group=model_package_group,
    )
    metrics.add_metric(name=OUTCOME_METRICS[result.outcome], unit=MetricUnit.Count, value=1)
    logger.info(
        "validated",
        extra={
            "outcome": result.outcome,
            "source_uri": result.source_uri,
            "dataset_version": result.dataset_version,
            "rows": result.rows,
            "checks_failed": sorted({finding.check for finding in result.errors}),
            "warnings": len(result.warnings),
        },
    )
    return result.model_dump(mode="json")
