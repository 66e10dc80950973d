"""Lambda entry point of the "Prepare deployment" state: an approval in the Model Registry
started the execution; say whether and what to deploy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.aws_clients import aws_client
from functions.common.handler import Deferred, InvocationTracer, parsed_event, pipeline_handler

if TYPE_CHECKING:
    from functions.common.contracts import PrepareDeploymentRequest
    from functions.prepare_deployment.settings import DeploymentSettings

logger = Logger()
tracer = InvocationTracer()
metrics = Metrics()


# The state machine's Catch turns a raised error into the "Pipeline failed" outcome.
@pipeline_handler(
    settings_model=Deferred("functions.prepare_deployment.settings", "DeploymentSettings"),
    logger=logger,
    tracer=tracer,
    metrics=metrics,
    failure_log_message="deployment_preparation_failed",
    failure_metric="DeploymentPreparationErrors",
)
@parsed_event(model=Deferred("functions.common.contracts", "PrepareDeploymentRequest"))
def lambda_handler(event: PrepareDeploymentRequest, context: LambdaContext, settings: DeploymentSettings) -> dict[str, Any]:
    # Imported by the first invocation rather than at import (see functions.common.handler.Deferred).
    from functions.common.config import load_packaged_config
    from functions.prepare_deployment.service import prepare_deployment

    logger.append_keys(
        model_package_arn=event.detail.model_package_arn, event_id=event.event_id, execution_arn=event.execution_arn
    )
    result = prepare_deployment(event, load_packaged_config(), settings, sagemaker=aws_client("sagemaker"))
    logger.info(
        "deployment_prepared",
        extra={"model_version": result.model_version, "deploy": result.deploy, "reason": result.reason},
    )
    metrics.add_metric(name="ApprovalsDeployed" if result.deploy else "ApprovalsSkipped", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
