"""The registered version in service: the one a training upload is judged against (its drift
baseline and the gate's champion), the one a batch upload that names no version is scored by,
and the one an approval would replace.

With a real-time endpoint (deployment.mode realtime) it is the version the endpoint serves.
Without one (batch_only) approved versions become the batch model, so it is the newest approved
version of the model package group. Takes its SageMaker client as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from functions.common.deployed_version import parse_model_version
from functions.common.serving_model import read_serving_model

BATCH_ONLY_MODE = "batch_only"
# What the registry answers for a group that does not exist yet (nothing was registered).
MISSING_GROUP_CODES = frozenset({"ResourceNotFound", "ValidationException"})
NEWEST_APPROVED = "the newest approved version"


@dataclass(frozen=True)
class VersionInService:
    # None when the endpoint serves a model that names no registered version.
    model_package_arn: str | None
    model_version: int | None
    # Where it is in service, completing "version 3 is in service ...".
    serves: str


def serving_endpoint(deployment_mode: str, endpoint_name: str) -> str | None:
    """The endpoint a version serves on, or None when the deployment has none (batch_only)."""
    return None if deployment_mode == BATCH_ONLY_MODE else endpoint_name


def version_in_service(sagemaker: Any, *, model_package_group: str, endpoint_name: str | None) -> VersionInService | None:
    """`endpoint_name` None means there is no endpoint (see `serving_endpoint`). None when nothing
    is in service: the endpoint does not exist, or no version is approved yet."""
    if endpoint_name is None:
        return newest_approved_version(sagemaker, model_package_group)
    serving = read_serving_model(sagemaker, endpoint_name)
    if serving is None:
        return None
    return VersionInService(serving.model_package_arn, serving.model_version, f"on endpoint {endpoint_name}")


def newest_approved_version(sagemaker: Any, model_package_group: str) -> VersionInService | None:
    try:
        newest = sagemaker.list_model_packages(
            ModelPackageGroupName=model_package_group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        ).get("ModelPackageSummaryList", [])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in MISSING_GROUP_CODES:
            return None
        raise
    if not newest:
        return None
    arn = newest[0]["ModelPackageArn"]
    # A versioned package ARN ends in "/<group>/<version>".
    version = parse_model_version(str(newest[0].get("ModelPackageVersion") or arn.rsplit("/", 1)[-1]))
    return VersionInService(arn, version, f"scoring batch uploads as {NEWEST_APPROVED} (no endpoint: deployment.mode batch_only)")
