"""The Prepare deployment handler against moto's Model Registry and endpoints."""

from __future__ import annotations

import pytest
from approval_scenario import DATASET_VERSION, IMAGE_URI, MODEL_DATA_URL, request_for, write_config

from functions.common.contracts import PrepareDeploymentResult, RegisterModelResult
from functions.common.errors import MissingEnvironmentError
from functions.prepare_deployment.deployment_plan import ModelPackageNotFoundError, PackageOutsideGroupError
from functions.prepare_deployment.handler import lambda_handler


def test_a_manual_approval_is_deployed_under_names_of_its_own(approvals, context):
    # Given version 1 registered pending, then approved by a person
    package_arn = approvals.register()
    approvals.approve(package_arn)

    # When
    payload = lambda_handler(request_for(package_arn), context)

    # Then the payload is a RegisterModelResult the Deploy states read, plus the decision
    result = PrepareDeploymentResult.model_validate(payload)
    assert set(RegisterModelResult.model_fields) | {"deploy", "reason"} == set(payload)
    assert result.deploy is True
    assert "approved" in result.reason
    assert result.model_package_arn == package_arn
    assert result.model_version == 1
    assert result.approval_status == "Approved"
    assert result.model_name == result.endpoint_config_name == "mlops-v1-approved-c0ffee42"
    assert result.image_uri == IMAGE_URI
    assert result.model_data_url == MODEL_DATA_URL
    assert result.environment == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "DATASET_VERSION": DATASET_VERSION,
        "MODEL_PACKAGE_ARN": package_arn,
        "MODEL_VERSION": "1",
    }


def test_approval_replaces_another_serving_version(approvals, context):
    first = approvals.register()
    approvals.approve(first)
    approvals.serve("1", first)
    second = approvals.register()
    approvals.approve(second)

    result = PrepareDeploymentResult.model_validate(lambda_handler(request_for(second), context))

    assert result.deploy is True
    assert result.model_version == 2


def test_a_version_the_endpoint_already_serves_is_not_deployed_again(approvals, context):
    package_arn = approvals.register()
    approvals.approve(package_arn)
    approvals.serve("1", package_arn)

    result = PrepareDeploymentResult.model_validate(lambda_handler(request_for(package_arn), context))

    assert result.deploy is False
    assert result.reason == "Endpoint mlops-endpoint already serves model version 1."


def test_a_version_approved_by_the_policy_is_left_to_its_training_execution(approvals, context):
    package_arn = approvals.register(approved_by="policy")
    approvals.approve(package_arn)

    result = PrepareDeploymentResult.model_validate(lambda_handler(request_for(package_arn), context))

    assert result.deploy is False
    assert "automatic policy" in result.reason


def test_a_version_rejected_again_before_the_execution_ran_is_not_deployed(approvals, context):
    package_arn = approvals.register()

    result = PrepareDeploymentResult.model_validate(lambda_handler(request_for(package_arn), context))

    assert result.deploy is False
    assert result.reason == "Model version 1 is PendingManualApproval now, so it is not deployed."


def test_missing_environment_variable_is_a_typed_error_naming_it(approvals, context, monkeypatch):
    package_arn = approvals.register()
    approvals.approve(package_arn)
    monkeypatch.delenv("ENDPOINT_NAME")

    with pytest.raises(MissingEnvironmentError) as raised:
        lambda_handler(request_for(package_arn), context)

    assert raised.value.name == "ENDPOINT_NAME"
    assert str(raised.value) == "environment variable ENDPOINT_NAME is not set"


def test_an_unknown_package_is_a_typed_error(approvals, context):
    unknown = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-models/42"

    with pytest.raises(ModelPackageNotFoundError):
        lambda_handler(request_for(unknown), context)


def test_a_package_of_another_group_is_a_typed_error(approvals, context):
    approvals.sagemaker.create_model_package_group(ModelPackageGroupName="other-models")
    package_arn = approvals.register(group="other-models")
    approvals.approve(package_arn)

    with pytest.raises(PackageOutsideGroupError):
        lambda_handler(request_for(package_arn), context)


def test_in_batch_only_the_newest_approved_version_becomes_the_batch_model_whatever_an_endpoint_serves(
    approvals, context, tmp_path
):
    # Given deployment.mode batch_only, version 1 on an endpoint of the configured name, and version 2 approved
    write_config(tmp_path, deployment_mode="batch_only")
    first = approvals.register()
    approvals.approve(first)
    approvals.serve("1", first)
    second = approvals.register()
    approvals.approve(second)

    # When either approval's event is handled
    newest = PrepareDeploymentResult.model_validate(lambda_handler(request_for(second), context))
    older = PrepareDeploymentResult.model_validate(lambda_handler(request_for(first), context))

    # Then version 2 scores batch uploads, and version 1, older, does not replace it
    assert newest.deploy is True
    assert newest.reason == (
        "Model version 2 was approved in the model registry; it scores batch uploads from now on "
        "(deployment.mode batch_only: no endpoint)."
    )
    assert older.deploy is False
    assert "the newer approved version 2 keeps scoring batch uploads" in older.reason
