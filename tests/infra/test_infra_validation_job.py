"""The validation job route: the Choice on the upload's size, the SageMaker Processing job the
state machine starts (image, role, KMS, isolation, inputs and output), and its IAM scope."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import pytest
from aws_cdk.assertions import Match
from pydantic import ValidationError

from functions.common.config import ValidationConfig, ValidationJobConfig
from infra_synthesis import synthesize
from infra_template import render

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
WHEELS_DIR = REPOSITORY_ROOT / "infra" / "validation_job_wheels"
SAGEMAKER_RETRY_ERRORS = {
    "SageMaker.AmazonSageMakerException",
    "SageMaker.ResourceLimitExceededException",
    "SageMaker.ThrottlingException",
    "SageMaker.InternalFailure",
    "SageMaker.ServiceUnavailable",
}
JOB_REQUEST = {
    "bucket.$": "$.detail.bucket.name",
    "key.$": "$.detail.object.key",
    "object.$": "$.detail.object",
    "execution_arn.$": "$$.Execution.Id",
    "execution_name.$": "$$.Execution.Name",
}


@pytest.fixture(scope="module")
def states(synthesized):
    return synthesized.definition()["States"]


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    """The app for a config that moves every setting the job and the training read off its default."""
    document = json.loads((REPOSITORY_ROOT / "pipeline.json").read_text())
    document.setdefault("validation", {}).update(
        max_lambda_file_bytes=123_456_789,
        processing={
            "instance_type": "ml.r5.4xlarge",
            "volume_size_gb": 250,
            "max_runtime_seconds": 7200,
            "poll_interval_seconds": 45,
        },
    )
    # Only the XGBoost trainer trains across instances; scikit-learn on two is refused at load.
    document.setdefault("training", {}).update(
        instance_type="ml.c5.4xlarge", instance_count=2, framework="xgboost", framework_version="3.0-5",
        hyperparameters={"num_round": 100},
    )
    folder = tmp_path_factory.mktemp("scaled")
    (folder / "pipeline.json").write_text(json.dumps(document))
    return synthesize(folder / "pipeline.json", folder / "cdk.out")


@pytest.fixture(scope="module")
def job_role_id(synthesized):
    (role_id,) = [
        logical_id
        for logical_id, role in synthesized.resources("AWS::IAM::Role").items()
        if "Processing" in role["Properties"].get("Description", "")
    ]
    return role_id


def _statements(synthesized, role_id):
    return [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _listed(value):
    return value if isinstance(value, list) else [value]


def test_uploads_above_the_lambda_limit_take_the_validation_job_route(scaled):
    states = scaled.definition()["States"]

    route = states["Which validation route?"]

    assert states["Which event?"]["Default"] == "Which validation route?"
    assert route["Choices"] == [
        {
            "And": [
                {"Variable": "$.detail.object.size", "IsPresent": True},
                {"Variable": "$.detail.object.size", "NumericGreaterThan": 123_456_789},
            ],
            "Next": "Plan validation job",
        }
    ]
    assert route["Default"] == "Validate data"


def test_plan_and_conclude_invoke_the_validate_function_and_end_where_validate_data_does(synthesized, states):
    validate_function = states["Validate data"]["Resource"]

    plan, conclude = states["Plan validation job"], states["Conclude validation job"]

    assert plan["Resource"] == conclude["Resource"] == validate_function
    assert plan["Parameters"] == {"mode": "plan", **JOB_REQUEST}
    assert plan["ResultPath"] == "$.validation_job"
    assert conclude["Parameters"] == {"mode": "conclude", **JOB_REQUEST}
    assert conclude["ResultPath"] == "$.validation"
    assert states["Validate data"]["Next"] == conclude["Next"] == "Data accepted?"
    needed = states["Validation job needed?"]
    assert needed["Choices"] == [{"Variable": "$.validation_job.result", "IsNull": False, "Next": "Take planning result"}]
    assert needed["Default"] == "Start validation job"
    assert states["Take planning result"] == {
        "Type": "Pass",
        "InputPath": "$.validation_job.result",
        "ResultPath": "$.validation",
        "Next": "Data accepted?",
    }


def test_the_job_runs_the_training_image_with_the_bundle_under_the_job_role(synthesized, states, job_role_id):
    parameters = states["Start validation job"]["Parameters"]
    (bundle_key,) = [
        key
        for key in {re.search(r"[0-9a-f]{64}\.zip", str(item)) for item in parameters["ProcessingInputs"]} - {None}
        for key in [key.group(0)]
    ]

    assert parameters["ProcessingJobName.$"] == "$.validation_job.job_name"
    assert parameters["RoleArn"] == f"<{job_role_id}.Arn>"
    app = parameters["AppSpecification"]
    assert app["ImageUri"] == states["Start training"]["Parameters"]["AlgorithmSpecification"]["TrainingImage"]
    assert app["ContainerEntrypoint"] == ["python3", f"/opt/ml/processing/input/code/{bundle_key}"]
    assert app["ContainerArguments"] == [
        "--plan",
        "/opt/ml/processing/input/plan/plan.json",
        "--data",
        "/opt/ml/processing/input/data",
        "--output",
        "/opt/ml/processing/output",
        "--message-file",
        "/opt/ml/output/message",
    ]
    inputs = {item["InputName"]: item["S3Input"] for item in parameters["ProcessingInputs"]}
    assert inputs["code"]["S3Uri"].endswith(f"/{bundle_key}")
    assert (inputs["code"]["LocalPath"], inputs["code"]["S3DataType"]) == ("/opt/ml/processing/input/code", "S3Prefix")
    assert (inputs["plan"]["S3Uri.$"], inputs["plan"]["LocalPath"]) == (
        "$.validation_job.plan_uri",
        "/opt/ml/processing/input/plan",
    )
    # A manifest, so the job downloads the upload and not every key it prefixes.
    assert inputs["data"] == {
        "S3Uri.$": "$.validation_job.source_manifest_uri",
        "LocalPath": "/opt/ml/processing/input/data",
        "S3DataType": "ManifestFile",
        "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated",
    }


def test_the_job_is_encrypted_with_the_pipeline_key_isolated_and_sized_by_the_config(scaled):
    (key_id,) = scaled.resources("AWS::KMS::Key")
    parameters = scaled.definition()["States"]["Start validation job"]["Parameters"]

    assert parameters["ProcessingOutputConfig"] == {
        "Outputs": [
            {
                "OutputName": "validation",
                "S3Output": {
                    "S3Uri.$": "$.validation_job.output_uri",
                    "LocalPath": "/opt/ml/processing/output",
                    "S3UploadMode": "EndOfJob",
                },
            }
        ],
        "KmsKeyId": f"<{key_id}.Arn>",
    }
    assert parameters["ProcessingResources"] == {
        "ClusterConfig": {
            "InstanceCount": 1,
            "InstanceType": "ml.r5.4xlarge",
            "VolumeSizeInGB": 250,
            "VolumeKmsKeyId": f"<{key_id}.Arn>",
        }
    }
    assert parameters["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200}
    assert parameters["NetworkConfig"] == {"EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True}


def test_a_redriven_execution_describes_its_job_and_waits_on_it_like_training(scaled):
    states = scaled.definition()["States"]
    start = states["Start validation job"]

    assert start["Resource"] == "arn:<AWS::Partition>:states:::aws-sdk:sagemaker:createProcessingJob"
    assert start["Catch"][0] == {
        "ErrorEquals": ["SageMaker.ResourceInUseException"],
        "ResultPath": "$.processing",
        "Next": "Describe validation job",
    }
    assert start["ResultPath"] is None
    for name in ("Start validation job", "Describe validation job", "Describe validation job failure"):
        assert set(states[name]["Retry"][0]["ErrorEquals"]) == SAGEMAKER_RETRY_ERRORS, name
        assert states[name]["TimeoutSeconds"] > 0, name
        assert states[name]["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name
    assert states["Describe validation job"]["ResultSelector"] == {"status.$": "$.ProcessingJobStatus"}
    assert states["Describe validation job failure"]["ResultSelector"] == {
        "status.$": "$.ProcessingJobStatus",
        "reason.$": "$.FailureReason",
    }
    finished = states["Validation job finished?"]
    assert {(c["StringEquals"], c["Next"]) for c in finished["Choices"]} == {
        ("Completed", "Conclude validation job"),
        ("Failed", "Describe validation job failure"),
        ("Stopped", "Release deployment lock (validation job failed)"),
    }
    assert finished["Default"] == "Wait for validation job"
    wait = states["Wait for validation job"]
    assert (wait["Seconds"], wait["Next"]) == (45, "Describe validation job")
    assert states["Describe validation job failure"]["Next"] == "Release deployment lock (validation job failed)"
    assert states["Release deployment lock (validation job failed)"]["Next"] == "Notify validation job failed"
    assert states["Notify validation job failed"]["Next"] == "Validation job failed"


def test_the_machine_allows_for_the_jobs_run_time(synthesized, scaled):
    # Only the job's run time differs between the two configs (7200 s against the default).
    difference = scaled.definition()["TimeoutSeconds"] - synthesized.definition()["TimeoutSeconds"]

    assert difference == 7200 - synthesized.config.validation.processing.max_runtime_seconds


def test_training_gets_the_configured_instance_type_and_count(scaled):
    resources = scaled.definition()["States"]["Start training"]["Parameters"]["ResourceConfig"]

    assert (resources["InstanceType"], resources["InstanceCount"]) == ("ml.c5.4xlarge", 2)


def test_the_job_role_reads_only_its_copy_of_the_upload_and_its_plan_and_writes_only_its_output(synthesized, job_role_id):
    (data_bucket_id,) = [
        logical_id for logical_id in synthesized.resources("AWS::S3::Bucket") if logical_id.startswith("DataStoreDataBucket")
    ]
    (key_id,) = synthesized.resources("AWS::KMS::Key")

    synthesized.template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": Match.object_like(
                {"Statement": [Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})]}
            ),
            "Description": Match.string_like_regexp("Processing"),
        },
    )
    statements = _statements(synthesized, job_role_id)
    by_action: dict[str, set[str]] = {}
    for statement in statements:
        for action in _listed(statement["Action"]):
            by_action.setdefault(action, set()).update(render(r) for r in _listed(statement["Resource"]))

    data = f"<{data_bucket_id}.Arn>"
    # Its own folder, and as the join job of a batch file it validated, that batch's rows, plan and
    # answers in and its predictions and summary out.
    assert {r for r in by_action["s3:PutObject"]} == {
        f"{data}/validation-jobs/*",
        f"{data}/predictions/*",
        f"{data}/batch-jobs/*/join/*",
    }
    assert {r for r in by_action["s3:GetObject"] if r.startswith(data)} == {
        f"{data}/validation-jobs/*",
        f"{data}/batch-jobs/*/rows.csv",
        f"{data}/batch-jobs/*/join-plan.json",
        f"{data}/batch-jobs/*/output/*",
    }
    assert all(r.endswith(".zip") for r in by_action["s3:GetObject"] if not r.startswith(data))
    assert by_action["kms:Decrypt"] == {f"<{key_id}.Arn>"}
    listing = [s for s in statements if "s3:ListBucket" in _listed(s["Action"]) and data in map(render, _listed(s["Resource"]))]
    assert listing[0]["Condition"] == {"StringLike": {"s3:prefix": ["validation-jobs/*"]}}
    assert {action for action, resources in by_action.items() if "*" in resources} == {"cloudwatch:PutMetricData"}
    assert not any(action.startswith(("sagemaker:", "iam:", "s3:Delete")) for action in by_action)


def test_the_state_machine_may_start_and_describe_only_the_pipelines_processing_jobs(synthesized):
    (machine,) = synthesized.resources("AWS::StepFunctions::StateMachine").values()
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    processing_jobs = {"Fn::Join": ["", Match.array_with([":processing-job/mlops-*"])]}

    for action in ("sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob"):
        synthesized.template.has_resource_properties(
            "AWS::IAM::Policy",
            {
                "Roles": [{"Ref": role_id}],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [Match.object_like({"Action": Match.array_with([action]), "Resource": processing_jobs})]
                    )
                },
            },
        )
    granted = [
        render(resource)
        for statement in _statements(synthesized, role_id)
        if {"sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob"} & set(_listed(statement["Action"]))
        for resource in _listed(statement["Resource"])
    ]
    assert granted and all(resource.endswith(":processing-job/mlops-*") for resource in granted)


def test_the_bundled_wheels_are_the_projects_own_versions_for_the_images_interpreter():
    pins = dict(
        line.split("==")
        for line in (WHEELS_DIR / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    wheels = sorted(path.name for path in WHEELS_DIR.glob("*.whl"))

    for distribution, pinned in pins.items():
        assert version(distribution) == pinned, distribution
        prefix = f"{distribution.replace('-', '_')}-{pinned}-"
        (wheel,) = [name for name in wheels if name.startswith(prefix)]
        assert wheel.endswith("-py3-none-any.whl") or "-cp310-cp310-manylinux" in wheel, wheel
    assert len(wheels) == len(pins)


@pytest.mark.parametrize(
    "settings",
    [{"instance_count": 2}, {"instance_type": "m5.xlarge"}, {"volume_size_gb": 0}, {"max_runtime_seconds": 30}],
)
def test_the_job_settings_are_checked_when_the_config_loads(settings):
    with pytest.raises(ValidationError):
        ValidationJobConfig(**settings)


def test_the_job_settings_default_to_one_instance_with_room_for_a_large_file():
    settings = ValidationConfig().processing

    assert (settings.instance_count, settings.instance_type) == (1, "ml.m5.xlarge")
    assert settings.volume_size_gb * 1024**3 > 10 * ValidationConfig().max_lambda_file_bytes
