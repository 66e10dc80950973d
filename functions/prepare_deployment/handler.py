"""Lambda entry point of the "Prepare deployment" state: an approval in the Model Registry
started the execution; say whether and what to deploy."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from functions.common.config import load_packaged_config
from functions.common.contracts import PrepareDeploymentRequest
from functions.common.environment import require_env
from functions.common.errors import PipelineError
from functions.prepare_deployment.service import DeploymentSettings, prepare_deployment

logger = Logger()
tracer = Tracer()
metrics = Metrics()

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=PrepareDeploymentRequest)
def lambda_handler(event: PrepareDeploymentRequest, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(
        model_package_arn=event.detail.model_package_arn, event_id=event.event_id, execution_arn=event.execution_arn
    )
    try:
        settings = DeploymentSettings(
            model_package_group=require_env("MODEL_PACKAGE_GROUP"), endpoint_name=require_env("ENDPOINT_NAME")
        )
        result = prepare_deployment(
            event, load_packaged_config(), settings, sagemaker=boto3.client("sagemaker", config=CLIENT_CONFIG)
        )
    except PipelineError as error:
        # The state machine's Catch turns the raised error into the "Pipeline failed" outcome.
        logger.error("deployment_preparation_failed", extra={"error_type": type(error).__name__, "reason": str(error)})
        metrics.add_metric(name="DeploymentPreparationErrors", unit=MetricUnit.Count, value=1)
        raise
    logger.info(
        "deployment_prepared",
        extra={"model_version": result.model_version, "deploy": result.deploy, "reason": result.reason},
    )
    metrics.add_metric(name="ApprovalsDeployed" if result.deploy else "ApprovalsSkipped", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
