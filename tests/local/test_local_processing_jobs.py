"""The processing-job stand-in runs the container command under SageMaker Processing's contract:
inputs at their LocalPath, /opt/ml paths mapped, outputs uploaded, ExitMessage and FailureReason."""

from __future__ import annotations

import json
import textwrap

import boto3
import pytest
from botocore.exceptions import ClientError

from mlops.local.endpoints import LocalEndpointServer
from mlops.local.lambda_runtime import InProcessLambdaRuntime
from mlops.local.processing_jobs import LocalProcessingJobRunner
from mlops.local.standins import StandIns
from mlops.local.training_jobs import LocalTrainingJobRunner

# The jobs run in the SageMaker image's environment.
pytestmark = pytest.mark.usefixtures("image_runtime")

BUCKET = "data"
ASSETS = "assets"
# Reads both inputs, checks the contract's config files, writes one output file and the message.
ENTRY_SCRIPT = textwrap.dedent(
    """
    import json, pathlib, sys
    arguments = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    config = json.loads(pathlib.Path(arguments["--job-config"]).read_text())
    data = pathlib.Path(arguments["--data"])
    plan = json.loads(pathlib.Path(arguments["--plan"]).read_text())
    if plan.get("fail"):
        pathlib.Path(arguments["--message-file"]).write_text("ValueError: the plan asked to fail")
        sys.exit(3)
    out = pathlib.Path(arguments["--output"])
    (out / "nested").mkdir(parents=True, exist_ok=True)
    (out / "nested" / "listing.json").write_text(json.dumps({
        "files": sorted(p.name for p in data.iterdir()),
        "job": config["ProcessingJobName"],
        "content": (data / "upload.csv").read_text(),
    }))
    pathlib.Path(arguments["--message-file"]).write_text("done")
    """
)


def _request(plan_uri: str, manifest_uri: str) -> dict:
    def s3_input(name, uri, local_path, data_type):
        return {"InputName": name, "S3Input": {"S3Uri": uri, "LocalPath": local_path, "S3DataType": data_type}}

    return {
        "app_specification": {
            "ImageUri": "sklearn-image",
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/entry.py"],
            "ContainerArguments": [
                "--plan", "/opt/ml/processing/input/plan/plan.json",
                "--data", "/opt/ml/processing/input/data",
                "--output", "/opt/ml/processing/output",
                "--message-file", "/opt/ml/output/message",
                "--job-config", "/opt/ml/config/processingjobconfig.json",
            ],
        },
        "processing_inputs": [
            s3_input("code", f"s3://{ASSETS}/entry.py", "/opt/ml/processing/input/code", "S3Prefix"),
            s3_input("plan", plan_uri, "/opt/ml/processing/input/plan", "S3Prefix"),
            s3_input("data", manifest_uri, "/opt/ml/processing/input/data", "ManifestFile"),
        ],
        "processing_output_config": {
            "Outputs": [
                {
                    "OutputName": "validation",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/validation-jobs/exec/output/",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "stopping_condition": {"MaxRuntimeInSeconds": 120},
        "role_arn": "arn:aws:iam::123456789012:role/job",
    }


@pytest.fixture
def staged(moto_s3):
    moto_s3.create_bucket(Bucket=BUCKET)
    moto_s3.create_bucket(Bucket=ASSETS)
    moto_s3.put_object(Bucket=ASSETS, Key="entry.py", Body=ENTRY_SCRIPT.encode())
    moto_s3.put_object(Bucket=BUCKET, Key="incoming/upload.csv", Body=b"a,b\n1,2\n")
    # A sibling an S3 prefix of the upload's key would also match; the manifest names one object.
    moto_s3.put_object(Bucket=BUCKET, Key="incoming/upload.csv.gz", Body=b"not this one")
    moto_s3.put_object(Bucket=BUCKET, Key="validation-jobs/exec/plan.json", Body=b"{}")
    moto_s3.put_object(
        Bucket=BUCKET,
        Key="validation-jobs/exec/source.manifest",
        Body=json.dumps([{"prefix": f"s3://{BUCKET}/incoming/"}, "upload.csv"]).encode(),
    )
    return _request(f"s3://{BUCKET}/validation-jobs/exec/plan.json", f"s3://{BUCKET}/validation-jobs/exec/source.manifest")


def test_a_job_gets_its_inputs_runs_under_the_contract_and_uploads_its_output(moto_s3, staged, tmp_path):
    run = LocalProcessingJobRunner(tmp_path).run("mlops-validate-1", staged)

    assert run.succeeded, (run.failure_reason, run.log)
    assert run.exit_message == "done"
    listing = json.loads(
        moto_s3.get_object(Bucket=BUCKET, Key="validation-jobs/exec/output/nested/listing.json")["Body"].read()
    )
    assert listing == {"files": ["upload.csv"], "job": "mlops-validate-1", "content": "a,b\n1,2\n"}
    assert list(tmp_path.iterdir()) == []


def test_a_failing_container_is_failed_with_its_message_and_uploads_nothing(moto_s3, staged, tmp_path):
    moto_s3.put_object(Bucket=BUCKET, Key="validation-jobs/exec/plan.json", Body=b'{"fail": true}')

    run = LocalProcessingJobRunner(tmp_path).run("mlops-validate-2", staged)

    assert not run.succeeded
    assert run.failure_reason == "AlgorithmError: ValueError: the plan asked to fail"
    assert run.exit_message == "ValueError: the plan asked to fail"
    assert moto_s3.list_objects_v2(Bucket=BUCKET, Prefix="validation-jobs/exec/output/").get("KeyCount", 0) == 0


def test_an_input_with_no_objects_fails_the_job_with_a_client_error(moto_s3, staged, tmp_path):
    staged["processing_inputs"][1]["S3Input"]["S3Uri"] = f"s3://{BUCKET}/validation-jobs/other/plan.json"

    run = LocalProcessingJobRunner(tmp_path).run("mlops-validate-3", staged)

    assert not run.succeeded
    assert run.failure_reason.startswith("ClientError: no S3 objects found under s3://data/validation-jobs/other/plan.json")


def test_a_manifest_naming_a_missing_object_fails_the_job_with_a_client_error(moto_s3, staged, tmp_path):
    moto_s3.delete_object(Bucket=BUCKET, Key="incoming/upload.csv")

    run = LocalProcessingJobRunner(tmp_path).run("mlops-validate-4", staged)

    assert not run.succeeded
    assert run.failure_reason == "ClientError: s3://data/incoming/upload.csv does not exist"


@pytest.fixture
def installed_standins(moto_s3, tmp_path):
    standins = StandIns(
        lambdas=InProcessLambdaRuntime(lambda bucket, key: tmp_path, {}, tmp_path / "logs"),
        training=LocalTrainingJobRunner(tmp_path),
        endpoints=LocalEndpointServer(tmp_path),
        processing=LocalProcessingJobRunner(tmp_path),
    )
    with standins.installed():
        yield standins


def _create(sagemaker, name: str, request: dict) -> None:
    sagemaker.create_processing_job(
        ProcessingJobName=name,
        AppSpecification=request["app_specification"],
        ProcessingInputs=request["processing_inputs"],
        ProcessingOutputConfig=request["processing_output_config"],
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}},
        StoppingCondition=request["stopping_condition"],
        RoleArn=request["role_arn"],
    )


def test_create_processing_job_runs_the_job_and_describe_reports_how_it_ended(moto_s3, staged, installed_standins):
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")

    _create(sagemaker, "mlops-validate-ok", staged)
    moto_s3.put_object(Bucket=BUCKET, Key="validation-jobs/exec/plan.json", Body=b'{"fail": true}')
    _create(sagemaker, "mlops-validate-failed", staged)

    completed = sagemaker.describe_processing_job(ProcessingJobName="mlops-validate-ok")
    failed = sagemaker.describe_processing_job(ProcessingJobName="mlops-validate-failed")
    assert (completed["ProcessingJobStatus"], completed["ExitMessage"]) == ("Completed", "done")
    assert "FailureReason" not in completed
    assert failed["ProcessingJobStatus"] == "Failed"
    assert failed["FailureReason"] == "AlgorithmError: ValueError: the plan asked to fail"
    assert set(installed_standins.processing.runs) == {"mlops-validate-ok", "mlops-validate-failed"}


def test_a_second_job_with_the_same_name_is_refused_as_sagemaker_does(moto_s3, staged, installed_standins):
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    _create(sagemaker, "mlops-validate-once", staged)

    with pytest.raises(ClientError) as raised:
        _create(sagemaker, "mlops-validate-once", staged)

    assert raised.value.response["Error"]["Code"] == "ResourceInUse"
    assert len(installed_standins.processing.runs) == 1
