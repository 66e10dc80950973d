"""Lambda entry point of the "Evaluate model" state."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from functions.common.config import load_packaged_config
from functions.common.contracts import EvaluateModelRequest
from functions.common.environment import require_env
from functions.common.errors import PipelineError
from functions.evaluate_model.service import EvaluationSettings, evaluate_candidate

logger = Logger()
tracer = Tracer()
metrics = Metrics()

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
# An endpoint invocation may take up to 60 seconds before SageMaker gives up on it.
RUNTIME_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=70)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=EvaluateModelRequest)
def lambda_handler(event: EvaluateModelRequest, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(training_job=event.training_job_name, execution_arn=event.execution_arn)
    try:
        settings = EvaluationSettings(
            data_bucket=require_env("DATA_BUCKET"),
            endpoint_name=require_env("ENDPOINT_NAME"),
            model_package_group=require_env("MODEL_PACKAGE_GROUP"),
        )
        result = evaluate_candidate(
            event,
            load_packaged_config(),
            settings,
            sagemaker=boto3.client("sagemaker", config=CLIENT_CONFIG),
            runtime=boto3.client("sagemaker-runtime", config=RUNTIME_CLIENT_CONFIG),
            s3=boto3.client("s3", config=CLIENT_CONFIG),
        )
    except PipelineError as error:
        # The state machine's Catch turns the raised error into the "Pipeline failed" outcome.
        logger.error("evaluation_failed", extra={"error_type": type(error).__name__, "reason": str(error)})
        metrics.add_metric(name="EvaluationErrors", unit=MetricUnit.Count, value=1)
        raise
    logger.info(
        "evaluated",
        extra={
            "passed": result.passed,
            "primary_metric": result.primary_metric,
            "metrics": result.metrics,
            "champion_version": result.champion_version,
            "report_uri": result.report_uri,
        },
    )
    metrics.add_metric(name="CandidatesPassed" if result.passed else "CandidatesRejected", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
