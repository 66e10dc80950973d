"""Lambda entry point of the "Register version" state."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from functions.common.config import load_packaged_config
from functions.common.contracts import RegisterModelRequest
from functions.common.environment import require_env
from functions.common.errors import PipelineError
from functions.register_model.registration import RegistrationSettings, register_candidate

logger = Logger()
tracer = Tracer()
metrics = Metrics()

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RegisterModelRequest)
def lambda_handler(event: RegisterModelRequest, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(training_job=event.training_job_name, execution_arn=event.execution_arn)
    try:
        settings = RegistrationSettings(
            data_bucket=require_env("DATA_BUCKET"),
            model_package_group=require_env("MODEL_PACKAGE_GROUP"),
            inference_image_uri=require_env("INFERENCE_IMAGE_URI"),
            code_version=require_env("CODE_VERSION"),
        )
        result = register_candidate(
            event, load_packaged_config(), settings, sagemaker=boto3.client("sagemaker", config=CLIENT_CONFIG)
        )
    except PipelineError as error:
        # The state machine's Catch turns the raised error into the "Pipeline failed" outcome.
        logger.error("registration_failed", extra={"error_type": type(error).__name__, "reason": str(error)})
        metrics.add_metric(name="RegistrationErrors", unit=MetricUnit.Count, value=1)
        raise
    logger.info(
        "registered",
        extra={
            "model_package_arn": result.model_package_arn,
            "model_version": result.model_version,
            "approval_status": result.approval_status,
        },
    )
    metrics.add_metric(name=f"Versions{result.approval_status}", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
