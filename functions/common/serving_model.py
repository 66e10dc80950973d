"""What serves on the endpoint: its status, and the model and registry version behind it.

The alarm responder reads it to know what a rollback replaces, Prepare deployment to know
whether an approved version already serves; the evaluator and the drift monitor check that the
endpoint exists and judge its status by SERVING_STATUSES.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from functions.common.deployed_version import parse_model_version

# Endpoint states in which the current production variant still answers invocations.
SERVING_STATUSES = frozenset({"InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"})


@dataclass(frozen=True)
class ServingModel:
    endpoint_name: str
    endpoint_status: str
    endpoint_config_name: str
    model_name: str
    model_version: int | None
    model_package_arn: str | None


def endpoint_exists(sagemaker: Any, endpoint_name: str) -> bool:
    # Listing (not DescribeEndpoint) tells "absent" from other failures without reading error text.
    paginator = sagemaker.get_paginator("list_endpoints")
    for page in paginator.paginate(NameContains=endpoint_name):
        if any(endpoint["EndpointName"] == endpoint_name for endpoint in page.get("Endpoints", [])):
            return True
    return False


def read_serving_model(sagemaker: Any, endpoint_name: str) -> ServingModel | None:
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as error:
        # SageMaker answers a missing endpoint with ValidationException.
        if error.response.get("Error", {}).get("Code") == "ValidationException":
            return None
        raise
    endpoint_config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model_name = endpoint_config["ProductionVariants"][0]["ModelName"]
    model = sagemaker.describe_model(ModelName=model_name)
    container = model.get("PrimaryContainer") or next(iter(model.get("Containers") or []), {})
    environment = container.get("Environment") or {}
    package_arn = environment.get("MODEL_PACKAGE_ARN") or None
    return ServingModel(
        endpoint_name=endpoint_name,
        endpoint_status=endpoint.get("EndpointStatus", "Unknown"),
        endpoint_config_name=endpoint["EndpointConfigName"],
        model_name=model_name,
        model_version=_model_version(environment.get("MODEL_VERSION"), package_arn),
        model_package_arn=package_arn,
    )


def _model_version(model_version: str | None, package_arn: str | None) -> int | None:
    # A versioned package ARN ends in "/<group>/<version>".
    for candidate in (model_version, package_arn.rsplit("/", 1)[-1] if package_arn else None):
        version = parse_model_version(candidate)
        if version is not None:
            return version
    return None
