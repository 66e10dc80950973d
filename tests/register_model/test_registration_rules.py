"""Pure rules of registration: approval policy, names SageMaker accepts, metadata it accepts."""

from __future__ import annotations

import json
import re

import botocore.session
import pytest

from functions.common.contracts import RegisterModelRequest
from functions.common.model_package import APPROVED_BY_METADATA_KEY, APPROVED_BY_POLICY, resource_name
from functions.register_model.registration import (
    MAX_DESCRIPTION_CHARS,
    RegistrationSettings,
    approval_status_for,
    client_token_for,
    customer_metadata,
    description_for,
    hyperparameters_value,
    metadata_value,
    parse_hyperparameters_value,
)
from tests.support.events import load_event

EVENT = load_event("register_model")
SETTINGS = RegistrationSettings(
    data_bucket="data-bucket", model_package_group="mlops-models", inference_image_uri="image:1", code_version="3e1f0c2"
)


def _shape_metadata(operation: str, *members: str) -> dict:
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model(operation).input_shape
    for member in members:
        shape = getattr(shape, member) if member in ("key", "value", "member") else shape.members[member]
    return shape.metadata


@pytest.mark.parametrize(
    ("passed", "approval", "expected"),
    [(True, "automatic", "Approved"), (True, "manual", "PendingManualApproval"),
     (False, "automatic", "Rejected"), (False, "manual", "Rejected")],
)
def test_approval_status_follows_the_gate_and_the_policy(passed, approval, expected):
    assert approval_status_for(passed, approval) == expected


def test_resource_names_follow_sagemaker_name_rules():
    pattern = re.compile(_shape_metadata("CreateEndpointConfig", "EndpointConfigName")["pattern"])
    model_pattern = re.compile(_shape_metadata("CreateModel", "ModelName")["pattern"])
    for execution_name in ("3f2a9c1e-7b1d", "run_2024__", "a", "________", "x" * 80):
        name = resource_name("mlops-churn-model", 123456, execution_name)
        assert len(name) <= 63
        assert pattern.fullmatch(name) and model_pattern.fullmatch(name), name
    assert resource_name("mlops", 4, "3f2a9c1e-7b1d") == "mlops-v4-3f2a9c1e"


def test_a_qualified_resource_name_differs_from_the_plain_one_and_follows_the_rules():
    pattern = re.compile(_shape_metadata("CreateEndpointConfig", "EndpointConfigName")["pattern"])
    qualified = resource_name("mlops-churn-model", 123456, "3f2a9c1e-7b1d", qualifier="approved")

    assert qualified == "mlops-churn-model-v123456-approved-3f2a9c1e"
    assert pattern.fullmatch(qualified) and len(qualified) <= 63
    # The training path's name for the same version and the same execution name differs.
    assert resource_name("mlops", 4, "approved", qualifier="approved") != resource_name("mlops", 4, "approved")


@pytest.mark.parametrize(
    ("approval_status", "approved_by"),
    [("Approved", APPROVED_BY_POLICY), ("PendingManualApproval", "none"), ("Rejected", "none")],
)
def test_metadata_records_whether_the_policy_approved_the_version(approval_status, approved_by):
    request = RegisterModelRequest.model_validate(EVENT)

    metadata = customer_metadata(request, SETTINGS, {}, approval_status)

    assert metadata[APPROVED_BY_METADATA_KEY] == approved_by


def test_every_metadata_value_is_one_sagemaker_accepts():
    # Given the documented limits for CustomerMetadataProperties values
    limits = _shape_metadata("CreateModelPackage", "CustomerMetadataProperties", "value")
    allowed = re.compile(r"[\w\s.:/=+\-@]+")  # \p{L}\p{Z}\p{N} plus _.:/=+-@, for the ASCII we write
    request = RegisterModelRequest.model_validate(EVENT)

    metadata = customer_metadata(
        request, SETTINGS, {"estimator": "gradient_boosting", "note": '{"a": [1, 2]}'}, "Approved"
    )

    assert len(metadata) <= _shape_metadata("CreateModelPackage", "CustomerMetadataProperties")["max"]
    for key, value in metadata.items():
        assert limits["min"] <= len(value) <= limits["max"], key
        assert allowed.fullmatch(value), (key, value)


def test_metadata_values_are_cleaned_truncated_and_never_empty():
    assert metadata_value('{"a": 1}') == '__a_: 1_'
    assert metadata_value(None) == "none"
    assert metadata_value("") == "none"
    assert len(metadata_value("x" * 1000)) == 256
    assert metadata_value("s3://bucket/curated/abc/profile.json") == "s3://bucket/curated/abc/profile.json"


def test_hyperparameters_leave_out_sagemaker_container_keys_and_round_trip():
    value = hyperparameters_value({"sagemaker_program": "train.py", "max_iter": "200", "estimator": '"hist"'})

    assert value == "estimator=hist max_iter=200"
    assert parse_hyperparameters_value(value) == {"estimator": "hist", "max_iter": "200"}


def test_description_of_a_rejected_candidate_carries_its_reasons_on_one_line():
    event = json.loads(json.dumps(EVENT))
    event["evaluation"].update(passed=False, reasons=["First reason.", "Second\nreason." + "x" * 2000])

    description = description_for(RegisterModelRequest.model_validate(event))

    assert description.startswith("Rejected. First reason. Second reason.")
    assert "\n" not in description
    assert len(description) <= MAX_DESCRIPTION_CHARS


def test_client_token_is_stable_per_execution_and_valid():
    limits = _shape_metadata("CreateModelPackage", "ClientToken")
    token = client_token_for(EVENT["execution_arn"])
    assert token == client_token_for(EVENT["execution_arn"])
    assert token != client_token_for(EVENT["execution_arn"] + "x")
    assert len(token) <= limits["max"] and re.fullmatch(limits["pattern"], token)
