"""What the operating commands read from the model registry and the endpoint: the versions of the
model package group, everything that produced one version, and which version is in service
(on the endpoint, or without one, deployment.mode batch_only, the newest approved version).

Which version serves is the alarm responder's own read (`read_serving_model`), so a person and
the responder always name the same version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from functions.common.serving_model import ServingModel, read_serving_model
from functions.common.version_in_service import version_in_service
from functions.register_model.registration import EMPTY_METADATA_VALUE, parse_hyperparameters_value


@dataclass(frozen=True)
class VersionSummary:
    """One registered version as `mlops versions` lists it; unknown values are None."""

    version: int
    model_package_arn: str
    serving: bool
    created: datetime | None
    approval_status: str | None
    primary_metric: str | None
    primary_metric_value: str | None
    dataset_version: str | None

    def to_json_dict(self) -> dict[str, Any]:
        """The summary under the key names, and in the value forms, of the lineage record."""
        return {
            "version": self.version,
            "model_package_arn": self.model_package_arn,
            "serving": self.serving,
            "created": _iso(self.created),
            "approval_status": self.approval_status,
            "primary_metric": self.primary_metric,
            "primary_metric_value": self.primary_metric_value,
            "dataset_version": self.dataset_version,
        }


@dataclass(frozen=True)
class RegistryVersions:
    versions: list[VersionSummary]  # newest version first
    serving: ServingModel | None  # None: the endpoint does not exist (or, batch_only, there is none)


def read_registry_versions(sagemaker: Any, group: str, endpoint_name: str | None) -> RegistryVersions:
    """`endpoint_name` None: there is no endpoint (deployment.mode batch_only), and the version
    marked in service is the newest approved one."""
    packages = list_versions(sagemaker, group)
    serving = read_serving_model(sagemaker, endpoint_name) if endpoint_name else None
    in_service = serving_version(serving) if endpoint_name else read_serving_version(sagemaker, group, None)
    return RegistryVersions(versions=[version_summary(package, in_service) for package in packages], serving=serving)


def read_lineage(sagemaker: Any, group: str, endpoint_name: str | None, version: int) -> dict[str, Any] | None:
    """The lineage record of `version`, or None when the group has no such version."""
    package = find_version(sagemaker, group, version)
    if package is None:
        return None
    return lineage_of(package, read_serving_version(sagemaker, group, endpoint_name))


def list_versions(sagemaker: Any, group: str) -> list[dict[str, Any]]:
    """The group's versioned packages, newest version first, each described in full."""
    summaries = [
        summary
        for page in sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group)
        for summary in page.get("ModelPackageSummaryList", [])
        if summary.get("ModelPackageVersion") is not None
    ]
    summaries.sort(key=lambda summary: summary["ModelPackageVersion"], reverse=True)
    return [sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"]) for summary in summaries]


def find_version(sagemaker: Any, group: str, version: int) -> dict[str, Any] | None:
    for page in sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group):
        for summary in page.get("ModelPackageSummaryList", []):
            if summary.get("ModelPackageVersion") == version:
                return sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
    return None


def serving_version(serving: ServingModel | None) -> int | None:
    return serving.model_version if serving else None


def read_serving_version(sagemaker: Any, group: str, endpoint_name: str | None) -> int | None:
    """The registry version in service (functions/common/version_in_service.py): the endpoint's,
    or with no endpoint the newest approved one; None when nothing is, or it names no version."""
    in_service = version_in_service(sagemaker, model_package_group=group, endpoint_name=endpoint_name)
    return in_service.model_version if in_service is not None else None


def package_metadata(package: dict[str, Any]) -> dict[str, str]:
    """The lineage the registration recorded on the package (its customer metadata)."""
    return dict(package.get("CustomerMetadataProperties") or {})


def version_summary(package: dict[str, Any], serving_version: int | None) -> VersionSummary:
    metadata = package_metadata(package)
    created = package.get("CreationTime")
    return VersionSummary(
        version=package["ModelPackageVersion"],
        model_package_arn=package["ModelPackageArn"],
        serving=package["ModelPackageVersion"] == serving_version,
        created=created if isinstance(created, datetime) else None,
        approval_status=package.get("ModelApprovalStatus"),
        primary_metric=_known(metadata.get("primary_metric")),
        primary_metric_value=_known(metadata.get("primary_metric_value")),
        dataset_version=_known(metadata.get("dataset_version")),
    )


def lineage_of(package: dict[str, Any], serving_version: int | None) -> dict[str, Any]:
    """Everything that produced a version, as recorded in the registry."""
    metadata = package_metadata(package)
    container = _container(package)
    hyperparameters = _known(metadata.get("hyperparameters"))
    version = package["ModelPackageVersion"]
    created = package.get("CreationTime")
    return {
        "version": version,
        "model_package_arn": package["ModelPackageArn"],
        "serving": version == serving_version,
        "created": _iso(created) if isinstance(created, datetime) else None,
        "approval_status": package.get("ModelApprovalStatus"),
        "approval_description": package.get("ApprovalDescription"),
        "description": package.get("ModelPackageDescription"),
        "dataset_version": _known(metadata.get("dataset_version")),
        "dataset_uri": _known(metadata.get("dataset_uri")),
        "profile_uri": _known(metadata.get("profile_uri")),
        "code_version": _known(metadata.get("code_version")),
        "hyperparameters": parse_hyperparameters_value(hyperparameters) if hyperparameters else {},
        "training_job": _known(metadata.get("training_job")),
        "execution_arn": _known(metadata.get("execution_arn")),
        "validation_report": _known(metadata.get("validation_report")),
        "evaluation_report": _known(metadata.get("evaluation_report")),
        "champion_version": _known(metadata.get("champion_version")),
        "gate_decision": _known(metadata.get("gate_decision")),
        "gate_margin": _known(metadata.get("gate_margin")),
        "gate_new_rows": _known(metadata.get("gate_new_rows")),
        "gate_reference_holdout": _known(metadata.get("gate_reference_holdout")),
        "primary_metric": _known(metadata.get("primary_metric")),
        "primary_metric_value": _known(metadata.get("primary_metric_value")),
        "model_data_url": container.get("ModelDataUrl"),
        "image": container.get("Image"),
    }


def _container(package: dict[str, Any]) -> dict[str, Any]:
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or [{}]
    return containers[0]


def _known(value: str | None) -> str | None:
    return None if value in (None, "", EMPTY_METADATA_VALUE) else value


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None
