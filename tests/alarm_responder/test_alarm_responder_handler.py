"""The alarm responder Lambda handler against moto: rollback, retrain, cooldown, idempotency."""

from __future__ import annotations

import copy
import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends
from sklearn.datasets import load_breast_cancer

from functions.common.config import (
    CONFIG_FILE_NAME,
    ColumnSchema,
    DatasetSchema,
    GateConfig,
    MonitoringConfig,
    PipelineConfig,
)
from functions.common.errors import MissingEnvironmentError
from tests.support.events import load_event
from tests.support.lambda_handlers import LambdaContextStub

REGION = "us-east-1"
DATA_BUCKET = "mlops-data-123456789012"
ENDPOINT_NAME = "mlops-endpoint"
GROUP = "mlops-models"
METRICS_NAMESPACE = "mlops/monitoring"
MODEL_ROLE_ARN = "arn:aws:iam::123456789012:role/mlops-model"
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:mlops-training"
IMAGE_URI = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
DATASET_VERSION = "5" * 64
STACK_ALARM_ARNS = [
    f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:mlops-{kind}"
    for kind in ("errors", "latency", "invocation-anomaly", "drift", "quality", "pipeline-failures", "dead-letters")
]
FEATURES = ["mean_radius", "mean_texture", "mean_perimeter"]
SPLIT_ROWS = {"train": 40, "validation": 10, "test": 12}


CONTEXT = LambdaContextStub(
    function_name="mlops-alarm-responder",
    memory_limit_in_mb=512,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:mlops-alarm-responder",
    aws_request_id="0f5c2b8e-1d7a-4e55-9a0c-3b2f6d1e8a77",
)


@dataclass
class Deployment:
    package_arns: dict[int, str]
    queue_url: str
    update_endpoint_calls: list[dict[str, Any]] = field(default_factory=list)


def with_state_timestamp(event: dict[str, Any], timestamp: str) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed["detail"]["state"]["timestamp"] = timestamp
    return changed


def renamed_alarm(event: dict[str, Any], alarm_name: str) -> None:
    """The event as CloudWatch sends it for another of the stack's alarms: its name and its ARN."""
    event["detail"]["alarmName"] = alarm_name
    event["resources"] = [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm_name}"]


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    from functions.alarm_responder.handler import lambda_handler

    return lambda_handler(event, CONTEXT)


def pipeline_config() -> PipelineConfig:
    return PipelineConfig(
        project="mlops",
        dataset=DatasetSchema(
            target="target",
            problem_type="binary",
            columns=[*(ColumnSchema(name=name, type="float") for name in FEATURES),
                     ColumnSchema(name="target", type="integer")],
        ),
        gates=GateConfig(primary_metric="roc_auc"),
        monitoring=MonitoringConfig(cooldown_seconds=3600, max_retrains_per_day=3),
    )


def csv_text(rows: list[list[Any]], header: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def breast_cancer_rows(start: int, count: int) -> list[list[Any]]:
    data = load_breast_cancer()
    return [[*data.data[i, :3].round(4).tolist(), int(data.target[i])] for i in range(start, start + count)]


def age_object(key: str, hours: float) -> None:
    """Backdate an object's LastModified: moto stamps uploads to the second, so "newer than the
    manifest" needs real distance between the curated data and later uploads."""
    stored = s3_backends[DEFAULT_ACCOUNT_ID]["global"].buckets[DATA_BUCKET].keys[key]
    stored.last_modified = stored.last_modified - timedelta(hours=hours)


def read_csv(s3: Any, key: str) -> list[list[str]]:
    text = s3.get_object(Bucket=DATA_BUCKET, Key=key)["Body"].read().decode("utf-8")
    return list(csv.reader(io.StringIO(text)))


def deployed_versions(cloudwatch: Any) -> list[float]:
    """The DeployedModelVersion values published for the endpoint around now."""
    now = datetime.now(UTC)
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": METRICS_NAMESPACE,
                        "MetricName": "DeployedModelVersion",
                        "Dimensions": [{"Name": "EndpointName", "Value": ENDPOINT_NAME}],
                    },
                    "Period": 3600,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=30),
        EndTime=now + timedelta(minutes=30),
    )
    return response["MetricDataResults"][0]["Values"]


def audit_records(s3: Any) -> list[dict[str, Any]]:
    listed = s3.list_objects_v2(Bucket=DATA_BUCKET, Prefix="audit/").get("Contents", [])
    return [json.loads(s3.get_object(Bucket=DATA_BUCKET, Key=item["Key"])["Body"].read()) for item in listed]


def notifications(sqs: Any, queue_url: str) -> list[str]:
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"])["Message"] for message in received]


@pytest.fixture
def environment(monkeypatch, tmp_path):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "test",
        "POWERTOOLS_SERVICE_NAME": "alarm-responder",
        "DATA_BUCKET": DATA_BUCKET,
        "MODEL_PACKAGE_GROUP": GROUP,
        "ENDPOINT_NAME": ENDPOINT_NAME,
        "TOPIC_ARN": f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:mlops-alarms",
        "STATE_MACHINE_ARN": STATE_MACHINE_ARN,
        "MODEL_ROLE_ARN": MODEL_ROLE_ARN,
        "IDEMPOTENCY_TABLE": "mlops-idempotency",
        "METRICS_NAMESPACE": METRICS_NAMESPACE,
        "ALARM_ARNS": ",".join(STACK_ALARM_ARNS),
        "LAMBDA_TASK_ROOT": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    (tmp_path / CONFIG_FILE_NAME).write_text(pipeline_config().to_json())


@pytest.fixture
def aws(environment):
    with mock_aws():
        # A fresh default session per test: hooks registered on it reach every client the
        # handler builds, and nothing leaks into the next test.
        boto3.setup_default_session()
        yield


@pytest.fixture
def deployment(aws) -> Deployment:
    """Version 1 and 2 Approved in the registry, version 2 serving on the endpoint with data capture."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=DATA_BUCKET)
    topic_arn = boto3.client("sns").create_topic(Name="mlops-alarms")["TopicArn"]
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="mlops-alarm-notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    boto3.client("dynamodb").create_table(
        TableName="mlops-idempotency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    package_arns = {}
    for version in (1, 2):
        model_data = f"s3://mlops-artifacts/training-jobs/mlops-job-{version}/output/model.tar.gz"
        package_arns[version] = sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [{"Image": IMAGE_URI, "ModelDataUrl": model_data}],
                "SupportedContentTypes": ["application/json", "text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            CustomerMetadataProperties={"dataset_version": f"{version}" * 64},
        )["ModelPackageArn"]
        sagemaker.create_model(
            ModelName=f"mlops-v{version}",
            ExecutionRoleArn=MODEL_ROLE_ARN,
            PrimaryContainer={
                "Image": IMAGE_URI,
                "ModelDataUrl": model_data,
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                    "MODEL_PACKAGE_ARN": package_arns[version],
                    "MODEL_VERSION": str(version),
                    "DATASET_VERSION": f"{version}" * 64,
                },
            },
        )
    sagemaker.create_endpoint_config(
        EndpointConfigName="mlops-v2-config",
        ProductionVariants=[{
            "VariantName": "AllTraffic",
            "ModelName": "mlops-v2",
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1,
            "InitialVariantWeight": 1.0,
        }],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{DATA_BUCKET}/capture/",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT_NAME, EndpointConfigName="mlops-v2-config")

    # The newest curated dataset: what version 2 was trained on.
    header = [*FEATURES, "target"]
    start = 0
    for split, count in SPLIT_ROWS.items():
        key = f"curated/{DATASET_VERSION}/{split}/data.csv"
        s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=csv_text(breast_cancer_rows(start, count), header).encode())
        age_object(key, hours=2)
        start += count
    s3.put_object(Bucket=DATA_BUCKET, Key=f"curated/{DATASET_VERSION}/manifest.json", Body=b"{}")
    age_object(f"curated/{DATASET_VERSION}/manifest.json", hours=2)
    s3.put_object(Bucket=DATA_BUCKET, Key="incoming/breast-cancer.csv", Body=b"uploaded before curation\n")
    age_object("incoming/breast-cancer.csv", hours=3)

    recorded = Deployment(package_arns=package_arns, queue_url=queue_url)

    def answer_update_endpoint(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        # moto does not implement UpdateEndpoint; record the request and answer like SageMaker.
        request = json.loads(params["body"])
        recorded.update_endpoint_calls.append(request)
        arn = f"arn:aws:sagemaker:{REGION}:{DEFAULT_ACCOUNT_ID}:endpoint/{request['EndpointName']}"
        return AWSResponse(url="", status_code=200, headers={}, raw=None), {"EndpointArn": arn}

    boto3.DEFAULT_SESSION.events.register("before-call.sagemaker.UpdateEndpoint", answer_update_endpoint)
    return recorded


def test_error_alarm_rolls_back_to_the_previous_approved_version(deployment):
    # Given version 2 serving and version 1 approved before it
    sagemaker, s3 = boto3.client("sagemaker"), boto3.client("s3")

    # When the errors alarm enters ALARM
    decision = invoke(load_event("alarm_state_change_errors_alarm"))

    # Then the endpoint is updated to a new config serving version 1, with the same capture settings
    assert decision["action"] == "rollback"
    assert decision["outcome"] == "rolled back from version 2 to version 1"
    assert (decision["model_version_before"], decision["model_version_after"]) == (2, 1)
    assert len(deployment.update_endpoint_calls) == 1
    update = deployment.update_endpoint_calls[0]
    assert update["EndpointName"] == ENDPOINT_NAME
    assert update["RetainDeploymentConfig"] is False
    assert "DeploymentConfig" not in update
    new_config = sagemaker.describe_endpoint_config(EndpointConfigName=update["EndpointConfigName"])
    assert new_config["DataCaptureConfig"]["DestinationS3Uri"] == f"s3://{DATA_BUCKET}/capture/"
    [variant] = new_config["ProductionVariants"]
    assert (variant["VariantName"], variant["InstanceType"], variant["InitialInstanceCount"]) == (
        "AllTraffic", "ml.m5.large", 1
    )
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    assert model["ExecutionRoleArn"] == MODEL_ROLE_ARN
    assert model["PrimaryContainer"]["ModelDataUrl"].endswith("/mlops-job-1/output/model.tar.gz")
    environment = model["PrimaryContainer"]["Environment"]
    assert environment["MODEL_VERSION"] == "1"
    assert environment["MODEL_PACKAGE_ARN"] == deployment.package_arns[1]
    assert environment["DATASET_VERSION"] == "1" * 64
    assert environment["SAGEMAKER_PROGRAM"] == "inference.py"

    # And the bad version is Rejected with the alarm's reason
    rejected = sagemaker.describe_model_package(ModelPackageName=deployment.package_arns[2])
    assert rejected["ModelApprovalStatus"] == "Rejected"
    assert "mlops-errors" in rejected["ApprovalDescription"]
    assert sagemaker.describe_model_package(ModelPackageName=deployment.package_arns[1])[
        "ModelApprovalStatus"] == "Approved"

    # And the decision is audited and announced
    [record] = audit_records(s3)
    assert record["what"] == {"action": "rollback", "outcome": decision["outcome"], "status": "acted"}
    assert record["versions"] == {"before": 2, "after": 1}
    assert record["who"]["responder"] == CONTEXT.invoked_function_arn
    assert record["who"]["alarm_arn"].endswith(":alarm:mlops-errors")
    assert record["details"]["rejected_model_package_arn"] == deployment.package_arns[2]
    [message] = notifications(boto3.client("sqs"), deployment.queue_url)
    assert message.startswith("Alarm mlops-errors went from OK to ALARM")
    assert message.endswith("rollback: rolled back from version 2 to version 1.")


def test_a_rollback_publishes_the_restored_version_for_the_dashboard(deployment):
    invoke(load_event("alarm_state_change_errors_alarm"))

    assert deployed_versions(boto3.client("cloudwatch")) == [1.0]


def test_a_decision_that_changes_no_version_publishes_none(deployment):
    invoke(load_event("alarm_state_change_drift_alarm"))

    assert deployed_versions(boto3.client("cloudwatch")) == []


def test_an_invocation_anomaly_is_announced_and_changes_nothing(deployment):
    event = load_event("alarm_state_change_errors_alarm")
    renamed_alarm(event, "mlops-invocation-anomaly")

    decision = invoke(event)

    assert (decision["action"], decision["outcome"]) == ("notify", "notified")
    assert decision["model_version_before"] == decision["model_version_after"] == 2
    assert deployment.update_endpoint_calls == []
    [record] = audit_records(boto3.client("s3"))
    assert record["alarm"]["kind"] == "invocation-anomaly"
    assert record["what"] == {"action": "notify", "outcome": "notified", "status": "acted"}
    [message] = notifications(boto3.client("sqs"), deployment.queue_url)
    assert message.startswith("Alarm mlops-invocation-anomaly went from OK to ALARM")


def test_rollback_without_an_older_approved_version_is_skipped_and_announced(deployment):
    # Given version 1 is no longer approved
    boto3.client("sagemaker").update_model_package(
        ModelPackageArn=deployment.package_arns[1], ModelApprovalStatus="Rejected"
    )

    decision = invoke(load_event("alarm_state_change_errors_alarm"))

    assert decision["outcome"] == "skipped: no previous approved version"
    assert deployment.update_endpoint_calls == []
    assert boto3.client("sagemaker").describe_model_package(ModelPackageName=deployment.package_arns[2])[
        "ModelApprovalStatus"] == "Approved"
    [record] = audit_records(boto3.client("s3"))
    assert record["what"]["status"] == "skipped"
    assert len(notifications(boto3.client("sqs"), deployment.queue_url)) == 1


def _fresh_rows(s3, count: int = 7) -> None:
    """Labelled rows uploaded after the curated dataset: what a retrain has that the serving version had not."""
    s3.put_object(
        Bucket=DATA_BUCKET, Key="incoming/fresh.csv", Body=csv_text(breast_cancer_rows(100, count), [*FEATURES, "target"]).encode()
    )


def test_drift_alarm_writes_a_retraining_dataset_of_the_curated_rows_and_the_new_ones(deployment):
    s3 = boto3.client("s3")
    _fresh_rows(s3)

    decision = invoke(load_event("alarm_state_change_drift_alarm"))

    assert decision["action"] == "retrain"
    assert decision["outcome"].startswith("retraining started with incoming/retrain-")
    key = decision["outcome"].removeprefix("retraining started with ")
    assert key.endswith(".csv")
    rows = read_csv(s3, key)
    assert rows[0] == [*FEATURES, "target"]
    assert len(rows) - 1 == sum(SPLIT_ROWS.values()) + 7
    expected = read_csv(s3, f"curated/{DATASET_VERSION}/train/data.csv")[1:]
    assert rows[1 : 1 + len(expected)] == expected
    [record] = audit_records(s3)
    assert record["details"]["dataset_key"] == key
    assert record["details"]["state_machine_arn"] == STATE_MACHINE_ARN


def test_a_retrain_reads_a_training_split_written_in_parts(deployment):
    # Given the curated training split written as two part files (a distributed training job's)
    s3 = boto3.client("s3")
    train_key = f"curated/{DATASET_VERSION}/train/data.csv"
    header, *train_rows = read_csv(s3, train_key)
    s3.delete_object(Bucket=DATA_BUCKET, Key=train_key)
    for part in range(2):
        body = csv_text(train_rows[part::2], header).encode()
        s3.put_object(Bucket=DATA_BUCKET, Key=f"curated/{DATASET_VERSION}/train/part-{part:05d}.csv", Body=body)
    _fresh_rows(s3)

    # When drift retrains
    decision = invoke(load_event("alarm_state_change_drift_alarm"))

    # Then the retraining dataset holds every curated row, the parts' included
    key = decision["outcome"].removeprefix("retraining started with ")
    rows = read_csv(s3, key)
    assert len(rows) - 1 == sum(SPLIT_ROWS.values()) + 7
    assert sorted(rows[1 : 1 + len(train_rows)]) == sorted(train_rows)


def test_a_drift_alarm_with_no_new_rows_since_the_serving_version_is_skipped(deployment):
    # Given nothing uploaded since the curated dataset (or only files of another header)
    s3 = boto3.client("s3")
    s3.put_object(Bucket=DATA_BUCKET, Key="incoming/other-schema.csv", Body=csv_text([[1, 2]], ["a", "b"]).encode())

    decision = invoke(load_event("alarm_state_change_drift_alarm"))

    # Then no retraining dataset is written, and the audit record says why
    assert (decision["action"], decision["outcome"]) == ("retrain", "skipped: no new rows since the serving version")
    listing = s3.list_objects_v2(Bucket=DATA_BUCKET, Prefix="incoming/retrain-")
    assert listing.get("Contents", []) == []
    [record] = audit_records(s3)
    assert record["what"]["status"] == "skipped"
    assert f"since dataset version {DATASET_VERSION}" in record["details"]["reason"]


def test_retraining_dataset_adds_newer_incoming_csvs_with_the_same_header(deployment):
    # Given uploads after the curated dataset: one matching CSV, one with other columns, one parquet
    s3 = boto3.client("s3")
    header = [*FEATURES, "target"]
    s3.put_object(Bucket=DATA_BUCKET, Key="incoming/fresh.csv",
                  Body=csv_text(breast_cancer_rows(100, 7), header).encode())
    s3.put_object(Bucket=DATA_BUCKET, Key="incoming/other-schema.csv",
                  Body=csv_text([[1, 2]], ["a", "b"]).encode())
    s3.put_object(Bucket=DATA_BUCKET, Key="incoming/fresh.parquet", Body=b"PAR1")

    decision = invoke(load_event("alarm_state_change_drift_alarm"))

    key = decision["outcome"].removeprefix("retraining started with ")
    rows = read_csv(s3, key)
    assert len(rows) - 1 == sum(SPLIT_ROWS.values()) + 7
    assert rows[-1] == [str(value) for value in breast_cancer_rows(106, 1)[0]]
    [record] = audit_records(s3)
    assert record["details"]["incoming_included"] == ["incoming/fresh.csv"]
    assert record["details"]["incoming_ignored"] == ["incoming/other-schema.csv"]


def test_unreadable_curated_dataset_is_recorded_as_a_failed_retrain(deployment):
    # Given the newest curated dataset lost its validation split
    s3 = boto3.client("s3")
    s3.delete_object(Bucket=DATA_BUCKET, Key=f"curated/{DATASET_VERSION}/validation/data.csv")

    decision = invoke(load_event("alarm_state_change_drift_alarm"))

    assert (decision["action"], decision["outcome"]) == ("retrain", "failed: curated dataset unreadable")
    assert "Contents" not in s3.list_objects_v2(Bucket=DATA_BUCKET, Prefix="incoming/retrain-")
    [record] = audit_records(s3)
    assert record["what"]["status"] == "failed"
    assert "validation/data.csv" in record["details"]["error"]
    assert len(notifications(boto3.client("sqs"), deployment.queue_url)) == 1


def test_second_drift_alarm_inside_the_cooldown_is_skipped(deployment):
    # Given a retrain started for an earlier drift transition
    _fresh_rows(boto3.client("s3"))
    first = invoke(load_event("alarm_state_change_drift_alarm"))
    assert first["outcome"].startswith("retraining started")

    # When the alarm goes into ALARM again within the cooldown
    second = invoke(with_state_timestamp(load_event("alarm_state_change_drift_alarm"), "2024-06-03T11:20:07.000+0000"))

    # Then nothing new is written to incoming/, and the skip is recorded
    assert second["outcome"] == "skipped: cooldown"
    retrain_keys = [item["Key"] for item in boto3.client("s3").list_objects_v2(
        Bucket=DATA_BUCKET, Prefix="incoming/retrain-")["Contents"]]
    assert len(retrain_keys) == 1
    outcomes = sorted(record["what"]["outcome"] for record in audit_records(boto3.client("s3")))
    assert outcomes == [first["outcome"], "skipped: cooldown"]


def test_the_same_event_delivered_twice_acts_once(deployment):
    event = load_event("alarm_state_change_errors_alarm")

    first = invoke(event)
    second = invoke(event)

    assert second == first
    assert len(deployment.update_endpoint_calls) == 1
    assert len(audit_records(boto3.client("s3"))) == 1
    assert len(notifications(boto3.client("sqs"), deployment.queue_url)) == 1


def test_ok_transition_takes_no_action_and_is_recorded(deployment):
    decision = invoke(load_event("alarm_state_change_errors_ok"))

    assert (decision["action"], decision["outcome"], decision["state"]) == ("none", "none", "OK")
    assert decision["model_version_before"] == decision["model_version_after"] == 2
    assert deployment.update_endpoint_calls == []
    [record] = audit_records(boto3.client("s3"))
    assert record["what"]["status"] == "none"
    [message] = notifications(boto3.client("sqs"), deployment.queue_url)
    assert message.startswith("Alarm mlops-errors went from ALARM to OK")


def test_unmapped_alarm_notifies_only(deployment):
    event = load_event("alarm_state_change_errors_alarm")
    renamed_alarm(event, "mlops-pipeline-failures")

    decision = invoke(event)

    assert (decision["action"], decision["outcome"]) == ("notify", "notified")
    assert deployment.update_endpoint_calls == []
    assert len(notifications(boto3.client("sqs"), deployment.queue_url)) == 1


def test_missing_environment_variable_is_a_clear_error(deployment, monkeypatch):
    monkeypatch.delenv("TOPIC_ARN")

    with pytest.raises(MissingEnvironmentError) as raised:
        invoke(load_event("alarm_state_change_errors_alarm"))

    assert raised.value.name == "TOPIC_ARN"
    assert deployment.update_endpoint_calls == []
    assert audit_records(boto3.client("s3")) == []


def test_retraining_dataset_does_not_repeat_rows_a_resent_file_carries(deployment):
    # Given a file sent again after the curated dataset: its first rows are curated already
    s3 = boto3.client("s3")
    header = [*FEATURES, "target"]
    resent = breast_cancer_rows(0, 5) + breast_cancer_rows(300, 2) + breast_cancer_rows(300, 1)
    s3.put_object(Bucket=DATA_BUCKET, Key="incoming/resent.csv", Body=csv_text(resent, header).encode())

    decision = invoke(load_event("alarm_state_change_drift_alarm"))

    # Then only its two new rows are added, once each
    rows = read_csv(s3, decision["outcome"].removeprefix("retraining started with "))
    assert len(rows) - 1 == sum(SPLIT_ROWS.values()) + 2
    assert rows[-2:] == [[str(value) for value in row] for row in breast_cancer_rows(300, 2)]


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda event: event.update(account="999999999999"), id="another account"),
        pytest.param(lambda event: event.update(region="ap-southeast-2"), id="another region"),
        pytest.param(
            lambda event: event.update(resources=["arn:aws:cloudwatch:us-east-1:999999999999:alarm:mlops-errors"]),
            id="another account's alarm",
        ),
        pytest.param(lambda event: event.update(resources=[]), id="no alarm"),
        pytest.param(
            lambda event: (
                event["detail"].update(alarmName="other-errors"),
                event.update(resources=["arn:aws:cloudwatch:us-east-1:123456789012:alarm:other-errors"]),
            ),
            id="an alarm of another stack",
        ),
    ],
)
def test_a_forged_or_foreign_alarm_event_does_nothing_and_says_nothing(deployment, forge):
    # Given an errors ALARM event that claims another account, region or alarm
    event = load_event("alarm_state_change_errors_alarm")
    forge(event)

    # When it reaches the responder
    decision = invoke(event)

    # Then nothing is rolled back, recorded or published
    assert decision["ignored"] is True
    assert deployment.update_endpoint_calls == []
    assert audit_records(boto3.client("s3")) == []
    assert notifications(boto3.client("sqs"), deployment.queue_url) == []
