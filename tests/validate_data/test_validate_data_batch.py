"""The validate function's batch steps against moto: a file under batch/ is checked without the
target by the same reader and checks as an upload, rejected into quarantine with a reason, or
planned for the transform job with the version that serves (or the one the key or a tag names);
after the job, its output is joined to the rows; each step leaves a report and an audit record."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from functions.validate_data.prediction_join import BatchOutputError
from functions.validate_data.handler import lambda_handler
from validate_data_support import DATA_BUCKET, request_for, to_csv_bytes

EXECUTION = "b47c2d3e-0000-4000-8000-00000000ba7c"


def _batch_request(key: str, mode: str = "batch", **extra) -> dict:
    return {**request_for(key, EXECUTION), "mode": mode, **extra}


def _serve_first_version(aws, breast_cancer, lambda_context) -> str:
    """A training upload accepted and its model serving, as the pipeline leaves them."""
    aws.put("incoming/train.csv", to_csv_bytes(breast_cancer.iloc[:300]))
    accepted = lambda_handler(request_for("incoming/train.csv", "0f1e2d3c-0000-4000-8000-000000000001"), lambda_context)
    assert accepted["outcome"] == "accepted", accepted
    return aws.serve_version(accepted)


def test_a_file_without_the_target_is_planned_for_the_serving_version(aws, lambda_context, breast_cancer):
    # Given version 1 serving
    _serve_first_version(aws, breast_cancer, lambda_context)
    to_score = breast_cancer.iloc[300:].drop(columns=["target"])
    aws.put("batch/june.csv", to_csv_bytes(to_score))

    # When the batch step plans it
    plan = lambda_handler(_batch_request("batch/june.csv"), lambda_context)

    # Then it goes to the transform job with version 1's model, and the rows to score are written
    assert plan["outcome"] == "accepted", plan
    assert plan["model"]["model_version"] == 1 and plan["model"]["chosen_by"] == "the endpoint"
    assert plan["model"]["environment"]["MODEL_VERSION"] == "1"
    assert plan["transform_job_name"].startswith("mlops-batch-v1-")
    assert plan["input_uri"] == f"s3://{DATA_BUCKET}/batch-jobs/{EXECUTION}/input/"
    features = pd.read_csv(io.BytesIO(aws.get(f"batch-jobs/{EXECUTION}/input/features.csv")), header=None)
    assert features.shape == (len(to_score), to_score.shape[1])
    assert plan["predictions_uri"] == f"s3://{DATA_BUCKET}/predictions/june/{EXECUTION}/predictions.csv"


def test_a_file_missing_a_feature_is_rejected_into_quarantine_with_a_report(aws, lambda_context, breast_cancer):
    _serve_first_version(aws, breast_cancer, lambda_context)
    aws.put("batch/bad.csv", to_csv_bytes(breast_cancer.drop(columns=["target", "mean_area"]).head(50)))

    plan = lambda_handler(_batch_request("batch/bad.csv"), lambda_context)

    assert plan["outcome"] == "data_rejected"
    assert "mean_area" in plan["reason"]
    assert plan["quarantine_uri"] == f"s3://{DATA_BUCKET}/quarantine/{EXECUTION}/upload/bad.csv"
    assert json.loads(aws.get(f"quarantine/{EXECUTION}/reason.json"))["reason"] == plan["reason"]
    report = aws.get_json(f"reports/{EXECUTION}/batch.json")
    assert report["outcome"] == "data_rejected"
    assert b"Batch data_rejected" in aws.get(f"reports/{EXECUTION}/batch.html")
    (audit_key,) = aws.keys("audit/")
    assert aws.get_json(audit_key)["what"] == {"action": "batch_score", "outcome": "data_rejected", "status": "recorded"}


@pytest.mark.parametrize(
    ("key", "tags", "expected"),
    [
        ("batch/v1/named.csv", None, (1, "the key")),
        ("batch/tagged.csv", "model-version=1", (1, "the object's tag")),
    ],
)
def test_a_version_named_by_the_key_or_a_tag_scores(aws, lambda_context, breast_cancer, key, tags, expected):
    _serve_first_version(aws, breast_cancer, lambda_context)
    arguments = {"Tagging": tags} if tags else {}
    aws.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=to_csv_bytes(breast_cancer.drop(columns=["target"]).head(20)), **arguments)

    plan = lambda_handler(_batch_request(key), lambda_context)

    assert plan["outcome"] == "accepted", plan
    assert (plan["model"]["model_version"], plan["model"]["chosen_by"]) == expected


def test_a_version_that_does_not_exist_rejects_the_file(aws, lambda_context, breast_cancer):
    _serve_first_version(aws, breast_cancer, lambda_context)
    aws.put("batch/v7/x.csv", to_csv_bytes(breast_cancer.drop(columns=["target"]).head(20)))

    plan = lambda_handler(_batch_request("batch/v7/x.csv"), lambda_context)

    assert plan["outcome"] == "data_rejected"
    assert "model version 7" in plan["reason"]


def test_without_an_approved_version_the_batch_fails_with_a_reason_and_a_report(aws, lambda_context, breast_cancer):
    aws.put("batch/early.csv", to_csv_bytes(breast_cancer.drop(columns=["target"]).head(20)))

    plan = lambda_handler(_batch_request("batch/early.csv"), lambda_context)

    assert plan["outcome"] == "failed"
    assert "no approved model version" in plan["reason"]
    assert aws.get_json(f"reports/{EXECUTION}/batch.json")["outcome"] == "failed"


def test_drift_is_reported_not_blocking_unless_configured(aws, lambda_context, breast_cancer, breast_cancer_config):
    # Given a file whose mean_area is in other units (x 10) than version 1's training data
    _serve_first_version(aws, breast_cancer, lambda_context)
    drifted = breast_cancer.drop(columns=["target"]).iloc[300:].copy()
    drifted["mean_area"] = drifted["mean_area"] * 1.8
    aws.put("batch/drifted.csv", to_csv_bytes(drifted))

    # When batch drift only reports, the file is scored and the drift is in the plan's warnings
    reported = lambda_handler(_batch_request("batch/drifted.csv"), lambda_context)
    assert reported["outcome"] == "accepted", reported
    assert any(w["check"] == "drift" and w["column"] == "mean_area" for w in reported["warnings"])

    # When batch drift blocks, the same file is rejected
    blocking = breast_cancer_config.model_copy(
        update={"batch": breast_cancer_config.batch.model_copy(update={"drift": "block"})}
    )
    aws.use_config(blocking)
    blocked = lambda_handler({**_batch_request("batch/drifted.csv"), "execution_name": "other-execution"}, lambda_context)
    assert blocked["outcome"] == "data_rejected"
    assert "mean_area" in blocked["reason"]


def test_conclude_joins_the_transform_output_to_the_rows_in_order(aws, lambda_context, breast_cancer):
    _serve_first_version(aws, breast_cancer, lambda_context)
    to_score = breast_cancer.drop(columns=["target"]).iloc[300:305]
    aws.put("batch/five.csv", to_csv_bytes(to_score))
    plan = lambda_handler(_batch_request("batch/five.csv"), lambda_context)
    # Given the job's output: two mini-batches, one JSON answer per line
    answers = [
        {"predictions": ["1", "0", "1"], "probabilities": [[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], "classes": ["0", "1"]},
        {"predictions": ["0", "0"], "probabilities": [[0.6, 0.4], [0.9, 0.1]], "classes": ["0", "1"]},
    ]
    aws.put(f"batch-jobs/{EXECUTION}/output/features.csv.out", "".join(json.dumps(a) + "\n" for a in answers).encode())

    result = lambda_handler(_batch_request("batch/five.csv", "batch_conclude", plan=plan), lambda_context)

    assert result["outcome"] == "scored" and result["rows_scored"] == 5
    predictions = pd.read_csv(io.BytesIO(aws.get(f"predictions/five/{EXECUTION}/predictions.csv")))
    assert list(predictions.columns) == ["row", "prediction", "probability_0", "probability_1", "model_version"]
    assert list(predictions["row"]) == [1, 2, 3, 4, 5]
    assert list(predictions["prediction"]) == [1, 0, 1, 0, 0]
    assert list(predictions["probability_1"]) == [0.9, 0.2, 0.7, 0.4, 0.1]
    report = aws.get_json(f"reports/{EXECUTION}/batch.json")
    assert report["prediction_distribution"]["counts"] == {"0": 3, "1": 2}


def test_an_output_that_misses_rows_is_an_error_not_a_result(aws, lambda_context, breast_cancer):
    _serve_first_version(aws, breast_cancer, lambda_context)
    aws.put("batch/five.csv", to_csv_bytes(breast_cancer.drop(columns=["target"]).iloc[300:305]))
    plan = lambda_handler(_batch_request("batch/five.csv"), lambda_context)
    aws.put(f"batch-jobs/{EXECUTION}/output/features.csv.out", b'{"predictions": ["1", "0"]}\n')

    with pytest.raises(BatchOutputError, match="2 predictions for 5 scored rows"):
        lambda_handler(_batch_request("batch/five.csv", "batch_conclude", plan=plan), lambda_context)


def test_batch_only_scores_with_the_newest_approved_version_not_the_endpoint(
    aws, lambda_context, breast_cancer, breast_cancer_config
):
    # Given version 1 on an endpoint and version 2 approved but never deployed
    first = _serve_first_version(aws, breast_cancer, lambda_context)
    package = aws.sagemaker.describe_model_package(ModelPackageName=first)
    aws.sagemaker.create_model_package(
        ModelPackageGroupName=package["ModelPackageGroupName"],
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties=package["CustomerMetadataProperties"],
        InferenceSpecification=package["InferenceSpecification"],
    )
    aws.put("batch/june.csv", to_csv_bytes(breast_cancer.drop(columns=["target"]).head(20)))

    # When the deployment is realtime, the endpoint's version scores; when batch_only, the newest approved
    realtime = lambda_handler(_batch_request("batch/june.csv"), lambda_context)
    aws.use_config(breast_cancer_config.model_copy(
        update={"deployment": breast_cancer_config.deployment.model_copy(update={"mode": "batch_only"})}
    ))
    batch_only = lambda_handler({**_batch_request("batch/june.csv"), "execution_name": "other-execution"}, lambda_context)

    assert (realtime["model"]["model_version"], realtime["model"]["chosen_by"]) == (1, "the endpoint")
    assert (batch_only["model"]["model_version"], batch_only["model"]["chosen_by"]) == (2, "the newest approved version")


def test_a_version_that_is_not_approved_never_scores(aws, lambda_context, breast_cancer):
    # Given version 2 registered but waiting for a person's approval
    first = _serve_first_version(aws, breast_cancer, lambda_context)
    package = aws.sagemaker.describe_model_package(ModelPackageName=first)
    aws.sagemaker.create_model_package(
        ModelPackageGroupName=package["ModelPackageGroupName"],
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification=package["InferenceSpecification"],
    )
    aws.put("batch/v2/x.csv", to_csv_bytes(breast_cancer.drop(columns=["target"]).head(20)))

    plan = lambda_handler(_batch_request("batch/v2/x.csv"), lambda_context)

    assert plan["outcome"] == "data_rejected"
    assert "model version 2, which is PendingManualApproval, not Approved" in plan["reason"]
