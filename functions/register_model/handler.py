"""Lambda entry point of the "Register version" state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.aws_clients import aws_client
from functions.common.handler import Deferred, InvocationTracer, parsed_event, pipeline_handler

if TYPE_CHECKING:
    from functions.common.contracts import RegisterModelRequest
    from functions.register_model.settings import RegistrationSettings

logger = Logger()
tracer = InvocationTracer()
metrics = Metrics()


# The state machine's Catch turns a raised error into the "Pipeline failed" outcome.
@pipeline_handler(
    settings_model=Deferred("functions.register_model.settings", "RegistrationSettings"),
    logger=logger,
    tracer=tracer,
    metrics=metrics,
    failure_log_message="registration_failed",
    failure_metric="RegistrationErrors",
)
@parsed_event(model=Deferred("functions.common.contracts", "RegisterModelRequest"))
def lambda_handler(event: RegisterModelRequest, context: LambdaContext, settings: RegistrationSettings) -> dict[str, Any]:
    # Imported by the first invocation rather than at import (see functions.common.handler.Deferred).
    from functions.common.config import load_packaged_config
    from functions.register_model.registration import register_candidate

    logger.append_keys(training_job=event.training_job_name, execution_arn=event.execution_arn)
    result = register_candidate(event, load_packaged_config(), settings, sagemaker=aws_client("sagemaker"))
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
