"""The Register version handler against moto's Model Registry."""

from __future__ import annotations

import boto3
import pytest

from functions.common.config import GateConfig
from functions.common.contracts import RegisterModelResult
from functions.common.errors import MissingEnvironmentError, RegistryError
from functions.evaluate_model.evaluation import ChampionEvidence, comparison, decide
from functions.register_model.handler import lambda_handler
from functions.register_model.registration import client_token_for, parse_hyperparameters_value

EXECUTION_NAME = "3f2a9c1e-7b1d-4e2a-9d8c-1a2b3c4d5e6f"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"


def test_passed_candidate_is_approved_with_its_evidence(registry, context):
    event = registry.event()

    result = RegisterModelResult.model_validate(lambda_handler(event, context))

    # Then the result is what the Deploy states need
    assert result.approval_status == "Approved"
    assert result.model_version == 1
    assert result.model_name == result.endpoint_config_name == "mlops-v1-3f2a9c1e"
    assert result.image_uri == IMAGE
    assert result.model_data_url == event["evaluation"]["model_artifact"]
    assert result.environment == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "DATASET_VERSION": event["validation"]["dataset_version"],
        "MODEL_PACKAGE_ARN": result.model_package_arn,
        "MODEL_VERSION": "1",
    }
    # And the registry holds the package with its lineage
    [package] = registry.packages()
    assert package["ModelPackageArn"] == result.model_package_arn
    assert package["ModelApprovalStatus"] == "Approved"
    metadata = package["CustomerMetadataProperties"]
    assert metadata["execution_arn"] == event["execution_arn"]
    assert metadata["dataset_version"] == event["validation"]["dataset_version"]
    assert metadata["dataset_uri"] == f"s3://data-bucket/curated/{event['validation']['dataset_version']}/"
    assert metadata["profile_uri"] == event["validation"]["profile_uri"]
    assert metadata["validation_report"] == event["validation"]["report_uri"]
    assert metadata["evaluation_report"] == event["evaluation"]["report_uri"]
    assert metadata["code_version"] == "3e1f0c2"
    assert metadata["training_job"] == event["training_job_name"]
    assert metadata["champion_version"] == "3"
    assert metadata["gate_decision"] == "passed"
    assert metadata["approved_by"] == "policy"
    assert metadata["primary_metric"] == "roc_auc"
    assert float(metadata["primary_metric_value"]) == event["evaluation"]["metrics"]["roc_auc"]
    assert parse_hyperparameters_value(metadata["hyperparameters"]) == {
        "estimator": "gradient_boosting", "learning_rate": "0.1", "max_iter": "200", "problem_type": "binary", "target": "target",
    }
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"] == {
        "ContentType": "application/json", "S3Uri": event["evaluation"]["report_uri"],
    }
    specification = package["InferenceSpecification"]
    assert specification["SupportedContentTypes"] == ["text/csv", "application/json"]
    assert specification["SupportedResponseMIMETypes"] == ["application/json"]
    assert specification["Containers"][0]["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert package["ModelPackageDescription"].startswith("Passed")


def test_manual_approval_policy_leaves_the_version_pending(registry, context):
    registry.use_approval("manual")

    result = RegisterModelResult.model_validate(lambda_handler(registry.event(), context))

    assert result.approval_status == "PendingManualApproval"
    [package] = registry.packages()
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    # A person's later approval is not the policy's: its approval event deploys the version.
    assert package["CustomerMetadataProperties"]["approved_by"] == "none"


def test_rejected_candidate_is_registered_as_rejected_with_reasons(registry, context):
    reasons = [
        "roc_auc 0.9500 against the champion (version 3)'s 0.9811 is 0.0311 worse, more than the allowed regression of 0.0100."
    ]
    event = registry.event(evaluation__passed=False, evaluation__reasons=reasons, evaluation__summary="Failed.")

    result = RegisterModelResult.model_validate(lambda_handler(event, context))

    assert result.approval_status == "Rejected"
    [package] = registry.packages()
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["CustomerMetadataProperties"]["gate_decision"] == "failed"
    assert reasons[0] in package["ModelPackageDescription"]


def test_a_retried_invocation_returns_the_same_version_and_creates_nothing(registry, context):
    first = lambda_handler(registry.event(), context)

    second = lambda_handler(registry.event(), context)

    assert second == first
    assert len(registry.packages()) == 1


def test_registration_carries_the_execution_token_so_a_concurrent_retry_gets_the_same_package(registry, context, monkeypatch):
    # moto ignores ClientToken; SageMaker returns the first package for a repeated token.
    tokens = []
    make_client = boto3.client

    def recording_client(*args, **kwargs):
        client = make_client(*args, **kwargs)
        client.meta.events.register(
            "provide-client-params.sagemaker.CreateModelPackage",
            lambda params, **_: tokens.append(params.get("ClientToken")),
        )
        return client

    monkeypatch.setattr(boto3, "client", recording_client)
    event = registry.event()

    lambda_handler(event, context)

    assert tokens == [client_token_for(event["execution_arn"])]


def test_another_execution_registers_the_next_version(registry, context):
    lambda_handler(registry.event(), context)
    other_arn = "arn:aws:states:us-east-1:123456789012:execution:mlops-training:77aa00bb-1111-2222-3333-444455556666"

    result = RegisterModelResult.model_validate(lambda_handler(registry.event(execution_arn=other_arn), context))

    assert result.model_version == 2
    assert result.model_name == "mlops-v2-77aa00bb"
    assert len(registry.packages()) == 2


def test_missing_environment_variable_is_a_typed_error(registry, context, monkeypatch):
    monkeypatch.delenv("INFERENCE_IMAGE_URI")

    with pytest.raises(MissingEnvironmentError) as raised:
        lambda_handler(registry.event(), context)
    assert raised.value.name == "INFERENCE_IMAGE_URI"
    assert registry.packages() == []


def test_a_missing_group_is_a_registry_error(registry, context, monkeypatch):
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", "no-such-group")

    with pytest.raises(RegistryError):
        lambda_handler(registry.event(), context)


def test_the_gate_s_margin_and_both_comparisons_are_recorded_for_the_lineage(registry, context):
    # Given a candidate compared with the champion on the new rows and the reference holdout
    event = registry.event()
    event["evaluation"]["min_improvement"] = 0.002
    event["evaluation"]["comparisons"] = [
        {"rows": "the new test rows", "row_count": 114, "challenger": 0.995, "champion": 0.99, "gain": 0.005},
        {"rows": "the reference holdout", "row_count": 240, "challenger": 0.985, "champion": 0.987, "gain": -0.002},
    ]

    lambda_handler(event, context)

    [package] = registry.packages()
    metadata = package["CustomerMetadataProperties"]
    assert metadata["gate_margin"] == "more than +0.0020"
    assert metadata["gate_new_rows"] == "challenger=0.9950 champion=0.9900 gain=+0.0050 rows=114"
    assert metadata["gate_reference_holdout"] == "challenger=0.9850 champion=0.9870 gain=-0.0020 rows=240"


def test_a_first_model_records_no_comparison(registry, context):
    event = registry.event()

    lambda_handler(event, context)

    [package] = registry.packages()
    assert not {"gate_margin", "gate_new_rows", "gate_reference_holdout"} & set(package["CustomerMetadataProperties"])


@pytest.mark.parametrize(
    ("min_improvement", "challenger"),
    [(0.0, 0.95), (0.01, 0.955)],
    ids=["a_tie_by_default", "a_gain_within_the_margin"],
)
def test_a_challenger_that_does_not_beat_the_champion_by_the_margin_is_registered_rejected_for_no_improvement(
    registry, context, min_improvement, challenger
):
    # Given the gate's decision on a challenger that does not beat the champion's 0.95 by the margin
    gates = GateConfig(primary_metric="roc_auc", thresholds={"roc_auc": 0.8}, min_improvement=min_improvement)
    evidence = ChampionEvidence(
        label="the champion (version 3)",
        new_rows=comparison("roc_auc", "the new test rows", 114, {"roc_auc": challenger}, {"roc_auc": 0.95}),
        reference=comparison("roc_auc", "the reference holdout", 240, {"roc_auc": 0.96}, {"roc_auc": 0.96}),
        registered_score=0.95,
    )
    decision = decide(gates, "binary", {"roc_auc": challenger}, evidence)
    event = registry.event(
        evaluation__passed=decision.passed,
        evaluation__reasons=decision.reasons,
        evaluation__summary=decision.summary,
        evaluation__min_improvement=min_improvement,
        evaluation__comparisons=[compared.to_dict() for compared in decision.comparisons],
    )
    event["evaluation"]["metrics"]["roc_auc"] = challenger

    # When it is registered
    result = RegisterModelResult.model_validate(lambda_handler(event, context))

    # Then the version is Rejected, and the registry says it was for no improvement
    assert result.approval_status == "Rejected"
    [package] = registry.packages()
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["ModelPackageDescription"].startswith("Rejected. No improvement: on the new test rows (114) roc_auc")
    metadata = package["CustomerMetadataProperties"]
    assert metadata["gate_decision"] == "failed"
    assert metadata["gate_margin"] == f"more than {min_improvement:+.4f}"
