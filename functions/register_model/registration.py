"""Record a candidate model as a version in the SageMaker Model Registry.

Every candidate is registered, rejected ones included, so the registry answers "what was tried,
on which data, and why was it (not) promoted?". Receives its SageMaker client as an argument.
"""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.common.config import PipelineConfig
from functions.common.contracts import ApprovalStatus, GateComparison, RegisterModelRequest, RegisterModelResult
from functions.common.errors import PipelineError, RegistryError
from functions.common.model_package import (
    APPROVED_BY_METADATA_KEY,
    APPROVED_BY_POLICY,
    container_environment,
    resource_name,
    result_for_package,
)
from functions.common.s3_layout import curated_prefix, s3_uri
from functions.register_model.settings import RegistrationSettings

SUPPORTED_CONTENT_TYPES = ["text/csv", "application/json"]
SUPPORTED_RESPONSE_MIME_TYPES = ["application/json"]
# A retried or redriven execution finds its own package among the group's newest versions.
MAX_PACKAGES_SCANNED_FOR_RETRY = 100
MAX_DESCRIPTION_CHARS = 1024
MAX_METADATA_VALUE_CHARS = 256
# CustomerMetadataProperties values allow letters, separators, numbers and these characters only.
METADATA_PUNCTUATION = frozenset("_.:/=+-@")
METADATA_REPLACEMENT_CHAR = "_"
EMPTY_METADATA_VALUE = "none"
# SageMaker's own keys in a training job's hyperparameters describe the container, not the model.
SAGEMAKER_HYPERPARAMETER_PREFIX = "sagemaker_"


class RegistrationInputError(PipelineError):
    """The request lacks what a registry entry needs (e.g. the dataset version)."""


def execution_name_of(execution_arn: str) -> str:
    return execution_arn.rsplit(":", 1)[-1]


def approval_status_for(passed: bool, approval: str) -> ApprovalStatus:
    if not passed:
        return "Rejected"
    return "Approved" if approval == "automatic" else "PendingManualApproval"


def _metadata_char_allowed(char: str) -> bool:
    return char in METADATA_PUNCTUATION or unicodedata.category(char)[0] in {"L", "Z", "N"}


def metadata_value(value: Any) -> str:
    """A value SageMaker accepts in CustomerMetadataProperties (1-256 chars of a restricted set)."""
    text = "" if value is None else str(value)
    cleaned = "".join(c if _metadata_char_allowed(c) else METADATA_REPLACEMENT_CHAR for c in text)
    return cleaned[:MAX_METADATA_VALUE_CHARS] or EMPTY_METADATA_VALUE


def hyperparameters_value(hyperparameters: dict[str, str]) -> str:
    """`key=value` pairs separated by spaces: JSON's braces, quotes and commas are not allowed in metadata."""
    pairs = [
        f"{key}={str(value).strip(chr(34))}"
        for key, value in sorted(hyperparameters.items())
        if not key.startswith(SAGEMAKER_HYPERPARAMETER_PREFIX)
    ]
    return metadata_value(" ".join(pairs))


def parse_hyperparameters_value(value: str) -> dict[str, str]:
    """The inverse of hyperparameters_value for values without spaces."""
    return dict(pair.split("=", 1) for pair in value.split() if "=" in pair)


def _printable(text: str) -> str:
    # ModelPackageDescription rejects control characters such as newlines.
    return "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)


def description_for(request: RegisterModelRequest) -> str:
    evaluation = request.evaluation
    if evaluation.passed:
        text = evaluation.summary
    else:
        text = "Rejected. " + " ".join(evaluation.reasons or [evaluation.summary])
    text = _printable(f"{text} Training job {request.training_job_name}.")
    if len(text) > MAX_DESCRIPTION_CHARS:
        text = text[: MAX_DESCRIPTION_CHARS - 3] + "..."
    return text


def customer_metadata(
    request: RegisterModelRequest,
    settings: RegistrationSettings,
    hyperparameters: dict[str, str],
    approval_status: ApprovalStatus | None = None,
) -> dict[str, str]:
    validation, evaluation = request.validation, request.evaluation
    primary_value = evaluation.metrics.get(evaluation.primary_metric)
    values = {
        "dataset_version": validation.dataset_version,
        "dataset_uri": s3_uri(settings.data_bucket, curated_prefix(validation.dataset_version or "")),
        "profile_uri": validation.profile_uri,
        "code_version": settings.code_version,
        "training_job": request.training_job_name,
        "execution_arn": request.execution_arn,
        "validation_report": validation.report_uri,
        "evaluation_report": evaluation.report_uri,
        "champion_version": evaluation.champion_version,
        "gate_decision": "passed" if evaluation.passed else "failed",
        "primary_metric": evaluation.primary_metric,
        "primary_metric_value": repr(primary_value) if primary_value is not None else "undefined",
        APPROVED_BY_METADATA_KEY: APPROVED_BY_POLICY if approval_status == "Approved" else None,
    }
    metadata = {key: metadata_value(value) for key, value in values.items()}
    metadata["hyperparameters"] = hyperparameters_value(hyperparameters)
    if evaluation.comparisons:
        # The gate as a person reads it first: the margin and both comparisons.
        metadata["gate_margin"] = metadata_value(f"more than {evaluation.min_improvement:+.4f}")
        for compared in evaluation.comparisons:
            metadata[f"gate_{_comparison_key(compared.rows)}"] = metadata_value(comparison_value(compared))
    return metadata


def _comparison_key(rows: str) -> str:
    return "reference_holdout" if "reference" in rows else "new_rows"


def comparison_value(compared: GateComparison) -> str:
    """`challenger=0.9950 champion=0.9900 gain=+0.0050 rows=114`: metadata allows no parentheses."""

    def number(value: float | None, signed: bool = False) -> str:
        return "undefined" if value is None else (f"{value:+.4f}" if signed else f"{value:.4f}")

    return (
        f"challenger={number(compared.challenger)} champion={number(compared.champion)} "
        f"gain={number(compared.gain, signed=True)} rows={compared.row_count}"
    )


def client_token_for(execution_arn: str) -> str:
    # Same execution, same token: SageMaker returns the first package instead of creating another.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, execution_arn))


def find_registered(sagemaker: Any, group: str, execution_arn: str) -> dict[str, Any] | None:
    """The package this execution already registered, if any (newest first, bounded scan)."""
    wanted = metadata_value(execution_arn)
    scanned = 0
    paginator = sagemaker.get_paginator("list_model_packages")
    pages = paginator.paginate(ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending")
    for page in pages:
        for summary in page.get("ModelPackageSummaryList", []):
            if scanned >= MAX_PACKAGES_SCANNED_FOR_RETRY:
                return None
            scanned += 1
            package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            if (package.get("CustomerMetadataProperties") or {}).get("execution_arn") == wanted:
                return package
    return None


def _result_for(package: dict[str, Any], project: str, execution_arn: str, dataset_version: str) -> RegisterModelResult:
    name = resource_name(project, int(package["ModelPackageVersion"]), execution_name_of(execution_arn))
    return result_for_package(package, name, dataset_version)


def _training_hyperparameters(sagemaker: Any, training_job_name: str) -> dict[str, str]:
    try:
        job = sagemaker.describe_training_job(TrainingJobName=training_job_name)
    except (ClientError, BotoCoreError) as error:
        raise RegistryError(f"cannot describe training job {training_job_name}: {error}") from error
    return dict(job.get("HyperParameters") or {})


def register_candidate(
    request: RegisterModelRequest, config: PipelineConfig, settings: RegistrationSettings, sagemaker: Any
) -> RegisterModelResult:
    dataset_version = request.validation.dataset_version
    if not dataset_version:
        raise RegistrationInputError("the validation result has no dataset version, so the model cannot be traced to its data")
    group = settings.model_package_group
    try:
        existing = find_registered(sagemaker, group, request.execution_arn)
    except (ClientError, BotoCoreError) as error:
        raise RegistryError(f"cannot list model packages in group {group}: {error}") from error
    if existing is not None:
        return _result_for(existing, config.project, request.execution_arn, dataset_version)

    hyperparameters = _training_hyperparameters(sagemaker, request.training_job_name)
    evaluation = request.evaluation
    approval_status = approval_status_for(evaluation.passed, config.approval)
    try:
        created = sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription=description_for(request),
            ModelApprovalStatus=approval_status,
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": settings.inference_image_uri,
                        "ModelDataUrl": evaluation.model_artifact,
                        "Environment": container_environment(dataset_version),
                    }
                ],
                "SupportedContentTypes": SUPPORTED_CONTENT_TYPES,
                "SupportedResponseMIMETypes": SUPPORTED_RESPONSE_MIME_TYPES,
            },
            ModelMetrics={
                "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": evaluation.report_uri}}
            },
            CustomerMetadataProperties=customer_metadata(request, settings, hyperparameters, approval_status),
            ClientToken=client_token_for(request.execution_arn),
        )
        package = sagemaker.describe_model_package(ModelPackageName=created["ModelPackageArn"])
    except (ClientError, BotoCoreError) as error:
        raise RegistryError(f"cannot register a model package in group {group}: {error}") from error
    return _result_for(package, config.project, request.execution_arn, dataset_version)
