"""Lambda entry point of the "Evaluate model" state."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from functions.common.aws_clients import aws_client
from functions.common.config import load_packaged_config
from functions.common.contracts import EvaluateModelRequest
from functions.common.handler import InvocationTracer, parsed_event, pipeline_handler
from functions.evaluate_model.service import evaluate_candidate
from functions.evaluate_model.settings import EvaluationSettings

logger = Logger()
tracer = InvocationTracer()
metrics = Metrics()

# The state machine's Catch turns a raised error into the "Pipeline failed" outcome.
@pipeline_handler(
    settings_model=EvaluationSettings,
    logger=logger,
    tracer=tracer,
    metrics=metrics,
    failure_log_message="evaluation_failed",
    failure_metric="EvaluationErrors",
)
@parsed_event(model=EvaluateModelRequest)
def lambda_handler(event: EvaluateModelRequest, context: LambdaContext, settings: EvaluationSettings) -> dict[str, Any]:
    logger.append_keys(training_job=event.training_job_name, execution_arn=event.execution_arn)
    result = evaluate_candidate(
        event,
        load_packaged_config(),
        settings,
        sagemaker=aws_client("sagemaker"),
        s3=aws_client("s3"),
    )
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
