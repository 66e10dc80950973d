"""Lambda entry point of the "Validate data" state: parse the request, get clients, delegate."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field, TypeAdapter

from functions.common.aws_clients import aws_client
from functions.common.batch_contracts import BatchRequest
from functions.common.config import load_packaged_config
from functions.common.contracts import ValidateDataRequest, ValidateDataResult, ValidationJobRequest
from functions.common.handler import InvocationTracer, parsed_event, pipeline_handler
from functions.validate_data.batch import run_batch_step
from functions.validate_data.service import conclude_validation_job, plan_validation_job, validate_upload
from functions.validate_data.settings import ValidateDataSettings

logger = Logger()
tracer = InvocationTracer()
metrics = Metrics()

OUTCOME_METRICS = {
    "accepted": "DataAccepted",
    "data_rejected": "DataRejected",
    "duplicate": "DuplicateUpload",
    "validation_job_needed": "ValidationJobNeeded",
}
BATCH_METRICS = {
    "accepted": "BatchAccepted",
    "data_rejected": "BatchRejected",
    "scored": "BatchScored",
    "failed": "BatchFailed",
    "validate_in_job": "BatchValidationJobPlanned",
}
# A request with a batch `mode` is a step of the batch branch, with another `mode` a step of the
# validation job route; without one, the Lambda route.
ValidateDataEvent = TypeAdapter(
    Annotated[BatchRequest | ValidationJobRequest | ValidateDataRequest, Field(union_mode="left_to_right")]
)


@pipeline_handler(
    settings_model=ValidateDataSettings,
    logger=logger,
    tracer=tracer,
    metrics=metrics,
    failure_log_message="validation_failed",
)
@parsed_event(model=ValidateDataEvent)
def lambda_handler(
    event: BatchRequest | ValidationJobRequest | ValidateDataRequest,
    context: LambdaContext,
    settings: ValidateDataSettings,
) -> dict[str, Any]:
    config = load_packaged_config()
    s3 = aws_client("s3")
    if isinstance(event, BatchRequest):
        step = run_batch_step(
            event,
            config,
            s3=s3,
            sagemaker=aws_client("sagemaker"),
            data_bucket=settings.data_bucket,
            model_package_group=settings.model_package_group,
            endpoint_name=settings.endpoint_name,
        )
        metrics.add_metric(name=BATCH_METRICS[step.outcome], unit=MetricUnit.Count, value=1)
        logger.info("batch_step", extra={"mode": event.mode, "outcome": step.outcome, "reason": step.reason})
        return step.model_dump(mode="json")
    mode = event.mode if isinstance(event, ValidationJobRequest) else "validate"
    if mode == "plan":
        plan = plan_validation_job(
            event,
            config,
            s3=s3,
            sagemaker=aws_client("sagemaker"),
            data_bucket=settings.data_bucket,
            model_package_group=settings.model_package_group,
            endpoint_name=settings.endpoint_name,
        )
        logger.info("validation job planned", extra={"job_name": plan.job_name, "source_missing": plan.result is not None})
        if plan.result is None:
            metrics.add_metric(name="ValidationJobPlanned", unit=MetricUnit.Count, value=1)
        else:
            _record(plan.result, mode)
        return plan.model_dump(mode="json")
    if mode == "conclude":
        result = conclude_validation_job(event, config, s3=s3, data_bucket=settings.data_bucket)
    else:
        result = validate_upload(
            event,
            config,
            s3=s3,
            sagemaker=aws_client("sagemaker"),
            data_bucket=settings.data_bucket,
            model_package_group=settings.model_package_group,
            endpoint_name=settings.endpoint_name,
        )
    _record(result, mode)
    return result.model_dump(mode="json")


def _record(result: ValidateDataResult, mode: str) -> None:
    metrics.add_metric(name=OUTCOME_METRICS[result.outcome], unit=MetricUnit.Count, value=1)
    logger.info(
        "validated",
        extra={
            "mode": mode,
            "outcome": result.outcome,
            "source_uri": result.source_uri,
            "dataset_version": result.dataset_version,
            "rows": result.rows,
            "checks_failed": sorted({finding.check for finding in result.errors}),
            "warnings": len(result.warnings),
        },
    )
