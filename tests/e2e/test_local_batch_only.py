"""deployment.mode batch_only on the local pipeline: no endpoint ever exists. A second training
upload is checked for drift against, and judged against, the first approved version (the one in
service); once a person approves the second, a batch upload is scored by it, the newest approved
version."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from functions.common.model_package import APPROVED_BY_METADATA_KEY
from functions.common.outcome import Outcome
from mlops.cli import main
from mlops.commands.registry import APPROVED_BY_PERSON
from mlops.local.cloud import LocalCloud
from mlops.local.runner import execution_result, run_upload
from tests.support.local_pipeline_runs import write_csv

pytestmark = pytest.mark.e2e

BOOSTING_ROUNDS = 30


def _config(tmp_path, frame):
    sample = write_csv(frame, tmp_path / "schema_sample.csv")
    config = tmp_path / "pipeline.json"
    assert main(["init", "--data", str(sample), "--target", "target", "--config", str(config)]) == 0
    document = json.loads(config.read_text())
    document["deployment"].update({"mode": "batch_only", "poll_interval_seconds": 1})
    document["training"]["hyperparameters"]["max_iter"] = BOOSTING_ROUNDS
    document["batch"] = {"poll_interval_seconds": 1}
    config.write_text(json.dumps(document, indent=2))
    return config


def _read_json(cloud, key: str) -> dict:
    return json.loads(cloud.client("s3").get_object(Bucket=cloud.outputs.data_bucket, Key=key)["Body"].read())


def _package_arn(sagemaker, cloud, version: int) -> str:
    (summary,) = [
        summary
        for summary in sagemaker.list_model_packages(ModelPackageGroupName=cloud.outputs.model_package_group)[
            "ModelPackageSummaryList"
        ]
        if summary["ModelPackageVersion"] == version
    ]
    return summary["ModelPackageArn"]


def _execution(result) -> str:
    return result.execution["arn"].rsplit(":", 1)[-1]


def test_the_second_upload_is_judged_against_the_first_and_the_newest_approved_version_scores_batches(
    tmp_path, breast_cancer_frame
):
    config = _config(tmp_path, breast_cancer_frame)
    first = write_csv(breast_cancer_frame.iloc[:200], tmp_path / "cancer_2024_01.csv")
    second = write_csv(breast_cancer_frame.iloc[200:500], tmp_path / "cancer_2024_02.csv")
    to_score = breast_cancer_frame.iloc[500:].drop(columns=["target"])
    batch_file = write_csv(to_score, tmp_path / "to_score.csv")

    with LocalCloud(config) as cloud:
        sagemaker = cloud.client("sagemaker")
        assert cloud.outputs.endpoint_name is None

        # Given a first version, approved: it becomes the batch model
        first_result = run_upload(cloud, first)
        assert first_result.outcome == Outcome.DEPLOYED, first_result.reason

        # When a second upload arrives
        second_result = run_upload(cloud, second)

        # Then it was checked for drift against version 1, judged against it by the gate, and found
        # no better on its new rows (without a champion it would have passed the thresholds alone)
        drift = _read_json(cloud, f"reports/{_execution(second_result)}/validation.json")["drift"]
        assert drift["baseline_model_package_arn"].endswith("/1"), drift
        champion = _read_json(cloud, f"reports/{_execution(second_result)}/evaluation.json")["champion"]
        assert champion["model_version"] == 1
        assert "scoring batch uploads" in champion["serves"]
        assert second_result.outcome == Outcome.MODEL_REJECTED, second_result.reason
        assert "the champion (version 1)" in second_result.reason

        # When a person approves version 2 all the same
        package = sagemaker.describe_model_package(ModelPackageName=_package_arn(sagemaker, cloud, 2))
        before = len(cloud.standins.started_executions)
        sagemaker.update_model_package(
            ModelPackageArn=package["ModelPackageArn"],
            ModelApprovalStatus="Approved",
            CustomerMetadataProperties={**package["CustomerMetadataProperties"], APPROVED_BY_METADATA_KEY: APPROVED_BY_PERSON},
        )
        (approval,) = cloud.standins.started_executions[before:]
        approved = execution_result(cloud, approval, "approval of version 2")

        # Then it becomes the batch model, without an endpoint
        assert approved.outcome == Outcome.DEPLOYED, approved.reason

        # And a file uploaded under batch/ is scored by it, the newest approved version
        scored = run_upload(cloud, batch_file, key="batch/to_score.csv")
        assert scored.outcome == Outcome.SCORED, scored.reason
        assert "model version 2" in scored.reason
        (predictions_key,) = [
            item["Key"]
            for item in cloud.client("s3").list_objects_v2(
                Bucket=cloud.outputs.data_bucket, Prefix="predictions/to_score/"
            )["Contents"]
        ]
        body = cloud.client("s3").get_object(Bucket=cloud.outputs.data_bucket, Key=predictions_key)["Body"].read()
        assert set(pd.read_csv(io.BytesIO(body))["model_version"]) == {2}

        # And no endpoint was ever created
        assert sagemaker.list_endpoints()["Endpoints"] == []
        assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
