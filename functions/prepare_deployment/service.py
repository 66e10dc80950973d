"""The AWS side of Prepare deployment: describe the approved package and the version in service,
then decide. Receives its SageMaker client as an argument."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.common.config import PipelineConfig
from functions.common.contracts import PrepareDeploymentRequest, PrepareDeploymentResult
from functions.common.errors import RegistryError
from functions.common.version_in_service import serving_endpoint, version_in_service
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


def serving_version(sagemaker: Any, model_package_group: str, endpoint_name: str | None) -> int | None:
    """The registry version in service (see functions/common/version_in_service.py); None when
    nothing is, or the endpoint's model names no version."""
    try:
        in_service = version_in_service(sagemaker, model_package_group=model_package_group, endpoint_name=endpoint_name)
    except (ClientError, BotoCoreError) as error:
        where = f"on endpoint {endpoint_name}" if endpoint_name else f"in {model_package_group}"
        raise RegistryError(f"cannot read the version in service {where}: {error}") from error
    return in_service.model_version if in_service is not None else None


def prepare_deployment(
    request: PrepareDeploymentRequest, config: PipelineConfig, settings: DeploymentSettings, sagemaker: Any
) -> PrepareDeploymentResult:
    package = describe_package(sagemaker, request.detail.model_package_arn)
    facts = package_facts(package)
    require_group(facts, settings.model_package_group)
    endpoint_name = serving_endpoint(config.deployment.mode, settings.endpoint_name)
    decision = decide(facts, serving_version(sagemaker, settings.model_package_group, endpoint_name), endpoint_name)
    return plan_deployment(package, decision, project=config.project, execution_name=request.execution_name)
