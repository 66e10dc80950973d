"""Pure rules of Prepare deployment: when an approval deploys, and under which names."""

from __future__ import annotations

import re

import botocore.session
import pytest

from functions.common.model_package import resource_name
from functions.prepare_deployment.deployment_plan import (
    DeploymentDecision,
    PackageFacts,
    PackageLineageMissingError,
    PackageOutsideGroupError,
    decide,
    deployment_resource_name,
    package_facts,
    plan_deployment,
    require_group,
)

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-models/7"
PACKAGE = {
    "ModelPackageArn": ARN,
    "ModelPackageVersion": 7,
    "ModelPackageGroupName": "mlops-models",
    "ModelApprovalStatus": "Approved",
    "CustomerMetadataProperties": {"dataset_version": "abc123", "approved_by": "none"},
    "InferenceSpecification": {
        "Containers": [
            {"Image": "image:1", "ModelDataUrl": "s3://artifacts/model.tar.gz", "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}
        ]
    },
}


def _facts(**changes) -> PackageFacts:
    values = {"arn": ARN, "version": 7, "group": "mlops-models", "approval_status": "Approved", "approved_by": "none", "dataset_version": "abc"}
    return PackageFacts(**{**values, **changes})


@pytest.mark.parametrize(
    ("facts", "serving", "deploy"),
    [
        (_facts(), None, True),
        (_facts(), 6, True),
        (_facts(), 7, False),
        (_facts(approved_by="policy"), None, False),
        (_facts(approved_by=None), None, True),
        (_facts(approval_status="Rejected"), 6, False),
    ],
)
def test_an_approval_deploys_only_what_nobody_else_deploys(facts, serving, deploy):
    decision = decide(facts, serving, "mlops-endpoint")

    assert decision.deploy is deploy
    # One sentence a person reads.
    assert decision.reason.endswith(".") and decision.reason.count(". ") == 0


@pytest.mark.parametrize(
    ("facts", "newest_approved", "deploy"),
    [
        (_facts(), 7, True),
        (_facts(), None, True),
        (_facts(), 8, False),
        (_facts(approved_by="policy"), 7, False),
        (_facts(approval_status="Rejected"), 6, False),
    ],
)
def test_without_an_endpoint_an_approval_makes_the_batch_model_only_when_no_newer_version_is_approved(
    facts, newest_approved, deploy
):
    decision = decide(facts, newest_approved, None)

    assert decision.deploy is deploy
    assert "endpoint " not in decision.reason.lower()
    assert decision.reason.endswith(".") and decision.reason.count(". ") == 0


def test_names_differ_from_the_training_path_and_follow_sagemaker_rules():
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateModel").input_shape
    pattern = re.compile(shape.members["ModelName"].metadata["pattern"])
    execution_name = "3f2a9c1e-7b1d-4e2a-9d8c-1a2b3c4d5e6f"

    name = deployment_resource_name("mlops", 7, execution_name)

    assert name == "mlops-v7-approved-3f2a9c1e"
    assert name != resource_name("mlops", 7, execution_name)
    assert pattern.fullmatch(name) and len(name) <= 63


def test_the_plan_adds_the_serving_environment_to_the_package_container():
    result = plan_deployment(PACKAGE, DeploymentDecision(True, "Approved."), project="mlops", execution_name="c0ffee42-1")

    assert result.environment == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "DATASET_VERSION": "abc123",
        "MODEL_PACKAGE_ARN": ARN,
        "MODEL_VERSION": "7",
    }
    assert (result.deploy, result.reason, result.model_name) == (True, "Approved.", "mlops-v7-approved-c0ffee42")


def test_a_package_without_lineage_or_outside_the_group_is_refused():
    without_lineage = {**PACKAGE, "CustomerMetadataProperties": {}}

    with pytest.raises(PackageLineageMissingError):
        package_facts(without_lineage)
    with pytest.raises(PackageOutsideGroupError):
        require_group(package_facts(PACKAGE), "other-models")
