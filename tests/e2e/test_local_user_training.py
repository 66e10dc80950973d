"""The user's own training code (`training.source_dir`, the example in examples/custom_training)
through the local pipeline on the breast cancer data: trained, evaluated against the champion,
registered with its code version, deployed, served and monitored; and a script that breaks the script-mode
contract fails the execution with a reason naming the broken part."""

from __future__ import annotations

import json
import os
import shutil
import tarfile

import pytest

from functions.common.outcome import Outcome
from infra.outputs import OUTPUT_SOURCE_BUNDLE
from mlops.commands.monitoring import run_scheduled_monitors, send_rows
from mlops.local.cloud import LocalCloud
from mlops.local.runner import endpoint_status, run_upload
from mlops.registry_reads import package_metadata
from tests.support.local_pipeline_runs import init_config, local_run, write_csv
from tests.support.training_source import REPOSITORY_ROOT

pytestmark = pytest.mark.e2e

EXAMPLE = REPOSITORY_ROOT / "examples" / "custom_training"
ROWS_SENT = 5
TRAFFIC_ROWS = 60


def _config(tmp_path, frame, source_dir):
    sample = write_csv(frame, tmp_path / "schema_sample.csv")
    return init_config(
        sample,
        "target",
        tmp_path / "pipeline.json",
        deployment__poll_interval_seconds=1,
        training__source_dir=os.path.relpath(source_dir, tmp_path),
        training__hyperparameters={"C": 0.5},
    )


def test_the_example_is_trained_judged_registered_with_its_code_version_and_served(tmp_path, breast_cancer_frame):
    # Given a config naming the example folder, relative to the config file
    config = _config(tmp_path, breast_cancer_frame, EXAMPLE)
    first = write_csv(breast_cancer_frame.iloc[:300], tmp_path / "cancer_2024_01.csv")
    more = write_csv(breast_cancer_frame.iloc[150:], tmp_path / "cancer_2024_02.csv")

    with LocalCloud(config) as cloud:
        # When a first upload and then more data arrive
        deployed = run_upload(cloud, first)
        second = run_upload(cloud, more)

        # Then the first model deploys, and the second is judged against it on the same rows
        assert deployed.outcome == Outcome.DEPLOYED, deployed.reason
        assert deployed.evaluation["metrics"]["roc_auc"] > 0.95
        assert second.outcome in {Outcome.DEPLOYED, Outcome.MODEL_REJECTED}, second.reason
        assert second.evaluation["champion_version"] == 1
        assert set(second.evaluation["champion_metrics"]) >= {"roc_auc", "f1"}

        # And every version's lineage carries the user's code version: the hash of the bundle of the example
        bundle_uri = cloud.deployed.outputs[OUTPUT_SOURCE_BUNDLE]
        bundle_key = bundle_uri.rsplit("/", 1)[1]
        sagemaker = cloud.client("sagemaker")
        packages = sagemaker.list_model_packages(ModelPackageGroupName=cloud.outputs.model_package_group)["ModelPackageSummaryList"]
        assert len(packages) == 2
        for summary in packages:
            package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            assert bundle_key.startswith(package_metadata(package)["code_version"])
        with tarfile.open(cloud.app.asset_folder_for_key(bundle_key)) as bundle:
            assert bundle.extractfile("features.py").read() == (EXAMPLE / "features.py").read_bytes()

        # And the endpoint serves the example's model through the built-in serving code
        rows = breast_cancer_frame.drop(columns=["target"]).iloc[:ROWS_SENT].to_dict(orient="records")
        answer = cloud.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=cloud.outputs.endpoint_name, ContentType="application/json", Body=json.dumps({"instances": rows})
        )
        served = json.loads(answer["Body"].read())
        assert len(served["predictions"]) == ROWS_SENT and served["classes"] == ["0", "1"]
        assert endpoint_status(cloud)["model_version"] in {1, 2}

        # And monitoring reads what it serves: the requests are captured, and the drift monitor runs over them
        traffic = breast_cancer_frame.drop(columns=["target"]).iloc[:TRAFFIC_ROWS]
        assert send_rows(cloud.client("sagemaker-runtime"), cloud.outputs.endpoint_name, traffic).failed_requests == 0
        captured = cloud.client("s3").list_objects_v2(Bucket=cloud.outputs.data_bucket, Prefix="capture/")
        assert captured.get("KeyCount", 0) > 0
        monitors = run_scheduled_monitors(cloud.client("events"), cloud.client("lambda"))
        assert monitors and all(monitor["error"] is None for monitor in monitors), monitors


def test_a_script_breaking_the_contract_fails_the_execution_naming_the_broken_part(tmp_path, capsys, breast_cancer_frame):
    # Given a copy of the example whose script leaves the last three test rows without a prediction
    folder = tmp_path / "my_training"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    source = (folder / "train.py").read_text()
    (folder / "train.py").write_text(source.replace("output.to_csv(", "output.iloc[:-3].to_csv("))
    config = _config(tmp_path, breast_cancer_frame, folder)
    data = write_csv(breast_cancer_frame.iloc[:300], tmp_path / "cancer.csv")

    # When it is uploaded
    exit_code, [result] = local_run(capsys, config, data)

    # Then the training job failed and the execution's reason says which part of the contract broke
    assert exit_code == 1
    assert result["outcome"] == Outcome.FAILED
    assert "TrainingFailed" in result["reason"]
    assert "script-mode contract broken: predictions.csv has " in result["reason"]
    assert "it must hold one prediction per test row" in result["reason"]
    assert result["model_version"] is None
