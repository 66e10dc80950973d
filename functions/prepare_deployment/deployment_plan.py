"""Whether an approved model package should be deployed, and what the Deploy states need for it.

Pure: works on the DescribeModelPackage response and on the version in service (the endpoint's,
or with no endpoint the newest approved version), never on clients. The result has the shape of RegisterModelResult, so the Deploy states read an approval
the same way they read a registration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.common.contracts import PrepareDeploymentResult
from functions.common.errors import PipelineError, RegistryError
from functions.common.model_package import (
    APPROVED_BY_METADATA_KEY,
    APPROVED_BY_POLICY,
    resource_name,
    result_for_package,
)

APPROVED = "Approved"
# Keeps this path's model and endpoint config names apart from the training path's names.
APPROVAL_RESOURCE_QUALIFIER = "approved"
DATASET_VERSION_METADATA_KEY = "dataset_version"
DATASET_VERSION_ENVIRONMENT_KEY = "DATASET_VERSION"


class ModelPackageNotFoundError(RegistryError):
    """The approved model package does not exist (or is not visible) in the registry."""


class PackageOutsideGroupError(PipelineError):
    """The approved package belongs to another model package group than the pipeline's."""


class PackageLineageMissingError(PipelineError):
    """The package records no dataset version, so it was not registered by this pipeline."""


@dataclass(frozen=True)
class PackageFacts:
    arn: str
    version: int
    group: str
    approval_status: str
    approved_by: str | None
    dataset_version: str


@dataclass(frozen=True)
class DeploymentDecision:
    deploy: bool
    reason: str


def package_facts(package: dict[str, Any]) -> PackageFacts:
    metadata = package.get("CustomerMetadataProperties") or {}
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or [{}]
    environment = containers[0].get("Environment") or {}
    dataset_version = metadata.get(DATASET_VERSION_METADATA_KEY) or environment.get(DATASET_VERSION_ENVIRONMENT_KEY)
    if not dataset_version or not containers[0].get("ModelDataUrl"):
        raise PackageLineageMissingError(
            f"model package {package['ModelPackageArn']} records no dataset version or model data, "
            "so it was not registered by this pipeline and cannot be deployed by it"
        )
    return PackageFacts(
        arn=package["ModelPackageArn"],
        version=int(package["ModelPackageVersion"]),
        group=package["ModelPackageGroupName"],
        approval_status=package["ModelApprovalStatus"],
        approved_by=metadata.get(APPROVED_BY_METADATA_KEY),
        dataset_version=dataset_version,
    )


def require_group(facts: PackageFacts, group: str) -> None:
    if facts.group != group:
        raise PackageOutsideGroupError(
            f"model package {facts.arn} belongs to group {facts.group}, not to the pipeline's group {group}"
        )


def decide(facts: PackageFacts, serving_version: int | None, endpoint_name: str | None) -> DeploymentDecision:
    """Deploy unless the version is no longer approved, the policy approved it, or it already serves.

    `endpoint_name` None: there is no endpoint (deployment.mode batch_only) and `serving_version`
    is the newest approved version; "deploying" makes the approved version the batch model, which
    it is only when no newer version is approved."""
    version = facts.version
    if facts.approval_status != APPROVED:
        return DeploymentDecision(False, f"Model version {version} is {facts.approval_status} now, so it is not deployed.")
    if facts.approved_by == APPROVED_BY_POLICY:
        return DeploymentDecision(
            False,
            f"Model version {version} was approved by the pipeline's automatic policy at registration, "
            "so the training execution that registered it deploys it.",
        )
    if endpoint_name is None:
        if serving_version is not None and serving_version != version:
            return DeploymentDecision(
                False,
                f"Model version {version} was approved, but the newer approved version {serving_version} keeps scoring "
                "batch uploads (deployment.mode batch_only: the newest approved version scores them).",
            )
        return DeploymentDecision(
            True,
            f"Model version {version} was approved in the model registry; it scores batch uploads from now on "
            "(deployment.mode batch_only: no endpoint).",
        )
    if serving_version == version:
        return DeploymentDecision(False, f"Endpoint {endpoint_name} already serves model version {version}.")
    return DeploymentDecision(True, f"Model version {version} was approved in the model registry; deploying it to endpoint {endpoint_name}.")


def deployment_resource_name(project: str, version: int, execution_name: str) -> str:
    return resource_name(project, version, execution_name, qualifier=APPROVAL_RESOURCE_QUALIFIER)


def plan_deployment(
    package: dict[str, Any],
    decision: DeploymentDecision,
    *,
    project: str,
    execution_name: str,
) -> PrepareDeploymentResult:
    facts = package_facts(package)
    name = deployment_resource_name(project, facts.version, execution_name)
    registration = result_for_package(package, name, facts.dataset_version)
    return PrepareDeploymentResult(**registration.model_dump(), deploy=decision.deploy, reason=decision.reason)
