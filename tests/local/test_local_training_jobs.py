"""The training-job stand-in runs the real entry point under SageMaker's script-mode contract."""

from __future__ import annotations

import io
import tarfile

import pytest

from mlops.local.training_jobs import LocalTrainingJobRunner
from tests.support.training_source import source_bundle

# The jobs run in the SageMaker image's environment.
pytestmark = pytest.mark.usefixtures("image_runtime")

BUCKET = "data"
ARTIFACTS = "artifacts"


def _job_request(channels: dict[str, str], submit: str) -> dict:
    return {
        "hyper_parameters": {
            "sagemaker_program": "train.py",
            "sagemaker_submit_directory": submit,
            "estimator": "gradient_boosting",
            "max_iter": "30",
        },
        "input_data_config": [
            {"ChannelName": name, "DataSource": {"S3DataSource": {"S3Uri": uri, "S3DataType": "S3Prefix"}}}
            for name, uri in channels.items()
        ],
        "output_data_config": {"S3OutputPath": f"s3://{ARTIFACTS}/training-jobs/"},
        "stopping_condition": {"MaxRuntimeInSeconds": 300},
    }


@pytest.fixture
def staged_data(moto_s3, breast_cancer, breast_cancer_config):
    moto_s3.create_bucket(Bucket=BUCKET)
    moto_s3.create_bucket(Bucket=ARTIFACTS)
    splits = {"train": breast_cancer.iloc[:350], "validation": breast_cancer.iloc[350:450], "test": breast_cancer.iloc[450:]}
    for name, frame in splits.items():
        moto_s3.put_object(Bucket=BUCKET, Key=f"curated/v1/{name}/data.csv", Body=frame.to_csv(index=False).encode())
    moto_s3.put_object(Bucket=ARTIFACTS, Key="assets/bundle.tar.gz", Body=source_bundle(breast_cancer_config))
    channels = {name: f"s3://{BUCKET}/curated/v1/{name}/" for name in splits}
    channels["code"] = f"s3://{ARTIFACTS}/assets/bundle.tar.gz"
    return channels


def test_a_job_that_succeeds_uploads_model_and_output_where_sagemaker_would(moto_s3, staged_data, tmp_path):
    # Given the three data channels and the source bundle delivered as the "code" channel
    request = _job_request(staged_data, "/opt/ml/input/data/code/bundle.tar.gz")

    # When the job runs
    run = LocalTrainingJobRunner(tmp_path).run("job-1", request)

    # Then SageMaker's output layout holds the model and the test-split predictions
    assert run.succeeded, run.failure_reason
    model = moto_s3.get_object(Bucket=ARTIFACTS, Key="training-jobs/job-1/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(model)) as archive:
        assert {"model.joblib", "metadata.json", "code/inference.py"} <= set(archive.getnames())
    output = moto_s3.get_object(Bucket=ARTIFACTS, Key="training-jobs/job-1/output/output.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(output)) as archive:
        assert "predictions.csv" in archive.getnames()


def test_a_failing_script_reports_the_failure_file_and_uploads_nothing(moto_s3, staged_data, tmp_path):
    # Given a hyperparameter the entry point does not know
    request = _job_request(staged_data, "/opt/ml/input/data/code/bundle.tar.gz")
    request["hyper_parameters"]["estimator"] = "quantum_forest"

    run = LocalTrainingJobRunner(tmp_path).run("job-2", request)

    assert not run.succeeded
    assert run.failure_reason.startswith("AlgorithmError: ")
    assert "quantum_forest" in run.failure_reason
    listed = moto_s3.list_objects_v2(Bucket=ARTIFACTS, Prefix="training-jobs/job-2/")
    assert listed.get("KeyCount", 0) == 0


def test_a_missing_channel_prefix_fails_the_job_with_a_client_error(moto_s3, staged_data, tmp_path):
    staged_data["train"] = f"s3://{BUCKET}/curated/does-not-exist/train/"
    run = LocalTrainingJobRunner(tmp_path).run("job-3", _job_request(staged_data, "/opt/ml/input/data/code/bundle.tar.gz"))
    assert not run.succeeded
    assert "ClientError: channel train has no objects" in run.failure_reason
