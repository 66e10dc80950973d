"""The local stand-ins for EventBridge's event ids, for recording started executions and for S3
transfers: every S3 event has an id of its own, an execution is recorded once whoever starts
it, and an upload sends its event from the thread that uploads."""

from __future__ import annotations

import io
import json
import re
import threading
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from mlops.local.cloud import MOTO_CONFIG
from mlops.local.standins import StandIns

REGION = "us-east-1"
BUCKET = "data-bucket"
DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
RUNNING_SECONDS = 2
RUNNING_DEFINITION = {
    "StartAt": "Hold",
    "States": {"Hold": {"Type": "Wait", "Seconds": RUNNING_SECONDS, "Next": "Done"}, "Done": {"Type": "Pass", "End": True}},
}
ROLE_ARN = "arn:aws:iam::123456789012:role/mlops-state-machine"
OBJECT_CREATED = "Object Created"


@pytest.fixture
def standins(aws_environment):
    with mock_aws(config=MOTO_CONFIG):
        runners = {name: mock.Mock() for name in ("lambdas", "training", "endpoints", "processing")}
        with StandIns(**runners).installed() as installed:
            yield installed


@pytest.fixture
def s3(standins):
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    return client


@pytest.fixture
def state_machine_arn(standins):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return sfn.create_state_machine(name="mlops-training", definition=json.dumps(DEFINITION), roleArn=ROLE_ARN)[
        "stateMachineArn"
    ]


def test_every_s3_event_has_an_id_of_its_own(standins, s3):
    s3.put_object(Bucket=BUCKET, Key="incoming/a.csv", Body=b"x,y\n1,2\n")
    s3.put_object(Bucket=BUCKET, Key="incoming/b.csv", Body=b"x,y\n3,4\n")
    s3.put_object(Bucket=BUCKET, Key="incoming/a.csv", Body=b"x,y\n1,2\n")

    events = [e for e in standins.published_events if e["detail-type"] == OBJECT_CREATED]

    assert [e["detail"]["object"]["key"] for e in events] == ["incoming/a.csv", "incoming/b.csv", "incoming/a.csv"]
    assert len({e["id"] for e in events}) == 3
    assert all(e["detail"]["bucket"]["name"] == BUCKET and e["detail"]["object"]["size"] == 8 for e in events)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["time"]) for e in events)


def test_an_execution_is_recorded_once_whoever_starts_it_however_often(standins):
    # Step Functions answers a repeated start with the same execution only while that execution
    # runs (afterwards, ExecutionAlreadyExists): the machine waits so the repeat finds it running.
    sfn = boto3.client("stepfunctions", region_name=REGION)
    state_machine_arn = sfn.create_state_machine(
        name="mlops-training-waits", definition=json.dumps(RUNNING_DEFINITION), roleArn=ROLE_ARN
    )["stateMachineArn"]

    first = sfn.start_execution(stateMachineArn=state_machine_arn, name="event-1-upload", input="{}")
    again = sfn.start_execution(stateMachineArn=state_machine_arn, name="event-1-upload", input="{}")
    other = sfn.start_execution(stateMachineArn=state_machine_arn, name="event-2-upload", input="{}")

    assert first["executionArn"] == again["executionArn"]
    assert standins.started_executions == [first["executionArn"], other["executionArn"]]


def test_a_rule_that_starts_the_state_machine_itself_records_its_execution_once(standins, s3, state_machine_arn):
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="uploads", EventPattern=json.dumps({"source": ["aws.s3"], "detail-type": [OBJECT_CREATED]}))
    events.put_targets(Rule="uploads", Targets=[{"Id": "machine", "Arn": state_machine_arn, "RoleArn": ROLE_ARN}])

    s3.put_object(Bucket=BUCKET, Key="incoming/a.csv", Body=b"x,y\n1,2\n")

    [delivery] = standins.deliveries
    assert standins.started_executions == [delivery.result["executionArn"]]


def test_an_s3_transfer_sends_its_event_from_the_thread_that_asked_for_it(standins, s3, monkeypatch):
    # The in-process runtime runs one function at a time: an upload a function makes must not
    # deliver its event from another thread while that function waits for the upload.
    threads = []
    publish = standins.publish_event
    monkeypatch.setattr(standins, "publish_event", lambda event: (threads.append(threading.get_ident()), publish(event)))

    s3.upload_fileobj(io.BytesIO(b"x,y\n1,2\n"), BUCKET, "incoming/a.csv")

    assert threads and set(threads) == {threading.get_ident()}
