"""Which registered version scores a batch upload, and what the transform job's model is.

In order: a version the key names (batch/v3/<file>), a version the object's `model-version` tag
names, and otherwise the version in service (functions/common/version_in_service.py): the one
serving on the endpoint, or with no endpoint (deployment.mode batch_only) the newest approved
version, which also scores before a first deployment. A named version must exist and be
approved: a rejected or pending one never scores. Takes its SageMaker client as an argument.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from botocore.exceptions import ClientError

from functions.common.batch_contracts import BatchModel
from functions.common.batch_layout import BATCH_PREFIX, VERSION_TAG
from functions.common.errors import PipelineError
from functions.common.model_package import serving_environment
from functions.common.version_in_service import NEWEST_APPROVED, newest_approved_version, version_in_service

VERSION_FOLDER = re.compile(r"v(\d{1,9})")
MAX_MODEL_NAME_CHARS = 63
DIGEST_CHARS = 12


class BatchModelRequestError(PipelineError):
    """The upload asks for a version that cannot score it (unknown, not approved, malformed)."""


class NoBatchModelError(PipelineError):
    """No approved version exists yet: nothing can score the file."""


def requested_version(key: str, tags: dict[str, str]) -> tuple[int | None, str]:
    """The version the key's first folder under batch/ or the object's tag names, and which named it."""
    folders = key.removeprefix(BATCH_PREFIX).split("/")[:-1]
    if folders and VERSION_FOLDER.fullmatch(folders[0]):
        return int(folders[0][1:]), "the key"
    tagged = tags.get(VERSION_TAG)
    if tagged is None:
        return None, ""
    text = tagged.strip().lower().removeprefix("v")
    if not text.isdigit():
        raise BatchModelRequestError(f"the object's {VERSION_TAG} tag {tagged!r} is not a model version number")
    return int(text), "the object's tag"


def batch_model_name_prefix(project: str) -> str:
    return f"{project}-batch-"


def batch_model_name(project: str, model_version: int, execution_arn: str) -> str:
    """One SageMaker model per execution, the same for every attempt of it."""
    digest = hashlib.sha256(execution_arn.encode("utf-8")).hexdigest()[:DIGEST_CHARS]
    return f"{batch_model_name_prefix(project)}v{model_version}-{digest}"[:MAX_MODEL_NAME_CHARS]


def choose_batch_model(
    sagemaker: Any,
    *,
    project: str,
    model_package_group: str,
    endpoint_name: str | None,
    key: str,
    tags: dict[str, str],
    execution_arn: str,
) -> BatchModel:
    version, named_by = requested_version(key, tags)
    if version is not None:
        package = _package_version(sagemaker, model_package_group, version)
        if package is None:
            raise BatchModelRequestError(f"{named_by} names model version {version}, which {model_package_group} does not have")
        status = package.get("ModelApprovalStatus")
        if status != "Approved":
            raise BatchModelRequestError(f"{named_by} names model version {version}, which is {status}, not Approved")
        return _batch_model(package, project, execution_arn, named_by)
    in_service = version_in_service(sagemaker, model_package_group=model_package_group, endpoint_name=endpoint_name)
    chosen_by = "the endpoint" if endpoint_name is not None else NEWEST_APPROVED
    if endpoint_name is not None and (in_service is None or not in_service.model_package_arn):
        # Before a first deployment, or while the endpoint serves a model that names no version.
        in_service, chosen_by = newest_approved_version(sagemaker, model_package_group), NEWEST_APPROVED
    if in_service is None or not in_service.model_package_arn:
        raise NoBatchModelError(f"no approved model version in {model_package_group} can score the file yet")
    package = sagemaker.describe_model_package(ModelPackageName=in_service.model_package_arn)
    return _batch_model(package, project, execution_arn, chosen_by)


def _package_version(sagemaker: Any, group: str, version: int) -> dict[str, Any] | None:
    paginator = sagemaker.get_paginator("list_model_packages")
    for page in paginator.paginate(ModelPackageGroupName=group):
        for summary in page.get("ModelPackageSummaryList", []):
            if int(summary.get("ModelPackageVersion") or 0) == version:
                try:
                    return sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
                except ClientError:
                    return None
    return None


def _batch_model(package: dict[str, Any], project: str, execution_arn: str, chosen_by: str) -> BatchModel:
    container = package["InferenceSpecification"]["Containers"][0]
    metadata = package.get("CustomerMetadataProperties") or {}
    version = int(package["ModelPackageVersion"])
    return BatchModel(
        model_package_arn=package["ModelPackageArn"],
        model_version=version,
        model_name=batch_model_name(project, version, execution_arn),
        image_uri=container["Image"],
        model_data_url=container["ModelDataUrl"],
        environment=serving_environment(package, metadata.get("dataset_version", "")),
        chosen_by=chosen_by,
        profile_uri=metadata.get("profile_uri"),
    )
