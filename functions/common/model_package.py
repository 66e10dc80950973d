"""The model packages the pipeline registers, and the deployable model each one becomes.

Register version writes the package and Prepare deployment reads an approved one back; both
turn a described package into what the Deploy states create (RegisterModelResult), under the
same names and with the same container environment.
"""

from __future__ import annotations

import re
from typing import Any

from functions.common.contracts import RegisterModelResult

INFERENCE_PROGRAM = "inference.py"
INFERENCE_SUBMIT_DIRECTORY = "/opt/ml/model/code"
MAX_SAGEMAKER_NAME_CHARS = 63
EXECUTION_NAME_CHARS_IN_RESOURCE_NAMES = 8
# Who approved a version at registration: the pipeline's policy, or nobody yet. The approval
# event of a policy-approved version must not deploy it a second time (its execution deploys it).
APPROVED_BY_METADATA_KEY = "approved_by"
APPROVED_BY_POLICY = "policy"


def resource_name(project: str, model_version: int, execution_name: str, *, qualifier: str = "") -> str:
    """SageMaker model / endpoint config name: [a-zA-Z0-9-], at most 63 characters, no edge hyphens.

    `qualifier` keeps names of another deployment path (e.g. "approved") apart from the
    training path's names for the same version.
    """
    suffix = re.sub(r"[^a-zA-Z0-9-]", "-", execution_name[:EXECUTION_NAME_CHARS_IN_RESOURCE_NAMES])
    middle = f"{qualifier}-" if qualifier else ""
    name = f"{project}-v{model_version}-{middle}{suffix}".strip("-")
    return name[:MAX_SAGEMAKER_NAME_CHARS].rstrip("-")


def container_environment(dataset_version: str) -> dict[str, str]:
    return {
        "SAGEMAKER_PROGRAM": INFERENCE_PROGRAM,
        "SAGEMAKER_SUBMIT_DIRECTORY": INFERENCE_SUBMIT_DIRECTORY,
        "DATASET_VERSION": dataset_version,
    }


def serving_environment(package: dict[str, Any], dataset_version: str) -> dict[str, str]:
    """The SageMaker model's environment for a described package: what the package's container
    declares plus what tells the endpoint's readers which version serves."""
    container = package["InferenceSpecification"]["Containers"][0]
    return {
        **container_environment(dataset_version),
        **(container.get("Environment") or {}),
        "MODEL_PACKAGE_ARN": package["ModelPackageArn"],
        "MODEL_VERSION": str(int(package["ModelPackageVersion"])),
    }


def result_for_package(package: dict[str, Any], resource: str, dataset_version: str) -> RegisterModelResult:
    """What the Deploy states need for a described package; `resource` names its model and endpoint config."""
    container = package["InferenceSpecification"]["Containers"][0]
    return RegisterModelResult(
        model_package_arn=package["ModelPackageArn"],
        model_version=int(package["ModelPackageVersion"]),
        approval_status=package["ModelApprovalStatus"],
        model_name=resource,
        endpoint_config_name=resource,
        image_uri=container["Image"],
        model_data_url=container["ModelDataUrl"],
        environment=serving_environment(package, dataset_version),
    )
