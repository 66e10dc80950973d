"""The AWS side of Prepare deployment: describe the approved package and what the endpoint
serves, then decide. Receives its SageMaker client as an argument."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.common.config import PipelineConfig
from functions.common.contracts import PrepareDeploymentRequest, PrepareDeploymentResult
from functions.common.errors import RegistryError
from functions.common.serving_model import read_serving_model
from functions.prepare_deployment.deployment_plan import (
    ModelPackageNotFoundError,
    decide,
    package_facts,
    plan_deployment,
    require_group,
)
from functions.prepare_deployment.settings import DeploymentSettings

# SageMaker answers a describe of a missing resource with ValidationException.
NOT_FOUND_ERROR_CODE = "ValidationException"


def describe_package(sagemaker: Any, package_arn: str) -> dict[str, Any]:
    try:
        return sagemaker.describe_model_package(ModelPackageName=package_arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == NOT_FOUND_ERROR_CODE:
            raise ModelPackageNotFoundError(f"model package {package_arn} does not exist in the registry") from error
        raise RegistryError(f"cannot describe model package {package_arn}: {error}") from error
    except BotoCoreError as error:
        raise RegistryError(f"cannot describe model package {package_arn}: {error}") from error


def serving_version(sagemaker: Any, endpoint_name: str) -> int | None:
    """The registry version the endpoint serves; None when there is no endpoint or it names none."""
    try:
        serving = read_serving_model(sagemaker, endpoint_name)
    except (ClientError, BotoCoreError) as error:
        raise RegistryError(f"cannot read what endpoint {endpoint_name} serves: {error}") from error
    return serving.model_version if serving is not None else None


def prepare_deployment(
    request: PrepareDeploymentRequest, config: PipelineConfig, settings: DeploymentSettings, sagemaker: Any
) -> PrepareDeploymentResult:
    package = describe_package(sagemaker, request.detail.model_package_arn)
    facts = package_facts(package)
    require_group(facts, settings.model_package_group)
    decision = decide(facts, serving_version(sagemaker, settings.endpoint_name), settings.endpoint_name)
    return plan_deployment(package, decision, project=config.project, execution_name=request.execution_name)
