"""`mlops batch FILE [--version N]`: uploads under batch/ (batch/vN/ for a version), finds the
execution the upload's event started, waits for it and prints the outcome and where the
predictions are; `mlops lineage` lists the batches a version scored. Against moto, with a state
machine standing for the pipeline's batch branch and EventBridge's delivery of the upload event."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from mlops.aws_target import AwsTarget
from mlops.cli_support import UsageError
from mlops.commands.batch import batch_key, score_file
from tests.cli.registry_cli_support import pipeline_config
from tests.support.state_machine_fragments import INTERPRETING_MOTO_CONFIG

BUCKET = "mlops-data-123456789012"
ROLE = "arn:aws:iam::123456789012:role/states"


def _branch(outcome: str) -> dict:
    """A stand-in for the batch branch: the output its last state leaves."""
    result = {"outcome": outcome, "reason": f"{outcome} for the test"}
    scored = {"predictions_uri": f"s3://{BUCKET}/predictions/june/x/predictions.csv", "report_uri": f"s3://{BUCKET}/reports/x/batch.json"}
    return {
        "StartAt": "Record",
        "States": {
            "Record": {"Type": "Pass", "Result": result, "ResultPath": "$.result", "Next": "Scored"},
            "Scored": {"Type": "Pass", "Result": scored, "ResultPath": "$.batch_result", "End": True},
        },
    }


@pytest.fixture
def deployed(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws(config=INTERPRETING_MOTO_CONFIG):
        session = boto3.Session(region_name="us-east-1")
        s3 = session.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield session


def _target(session, outcome: str) -> AwsTarget:
    sfn = session.client("stepfunctions")
    machine = sfn.create_state_machine(name="mlops-training-pipeline", definition=json.dumps(_branch(outcome)), roleArn=ROLE)
    target = AwsTarget(
        session=session,
        outputs={"DataBucketName": BUCKET, "StateMachineArn": machine["stateMachineArn"]},
        config=pipeline_config(),
        description="stack mlops-pipeline in us-east-1",
    )
    original_client = target.client
    uploads: list[str] = []

    def client(service: str):
        made = original_client(service)
        if service == "s3":
            # EventBridge's delivery of the upload's "Object Created" event to the state machine.
            put: dict[str, str] = {}

            def remember(params, **_):
                put.update(bucket=params["Bucket"], key=params["Key"])

            def deliver(parsed, **_):
                event = {"source": "aws.s3", "detail-type": "Object Created", "detail": {
                    "bucket": {"name": put["bucket"]},
                    "object": {"key": put["key"], "version-id": parsed.get("VersionId")}}}
                uploads.append(put["key"])
                sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps(event))

            made.meta.events.register("before-parameter-build.s3.PutObject", remember)
            made.meta.events.register("after-call.s3.PutObject", deliver)
        return made

    object.__setattr__(target, "client", client)
    object.__setattr__(target, "uploads", uploads)
    return target


def test_a_file_is_uploaded_under_batch_and_its_outcome_read_back(deployed, tmp_path):
    target = _target(deployed, "scored")
    file = tmp_path / "june.csv"
    file.write_text("mean_radius\n14.1\n")

    outcome = score_file(target, file, None, wait_seconds=60, sleep=lambda _: None)

    assert target.uploads == ["batch/june.csv"]
    assert outcome["outcome"] == "scored"
    assert outcome["predictions_uri"] == f"s3://{BUCKET}/predictions/june/x/predictions.csv"
    assert deployed.client("s3").get_object(Bucket=BUCKET, Key="batch/june.csv")["Body"].read() == b"mean_radius\n14.1\n"


def test_a_version_goes_in_the_key():
    assert batch_key(Path("data/june.csv"), 3) == "batch/v3/june.csv"
    assert batch_key(Path("june.csv"), None) == "batch/june.csv"


def test_an_upload_that_starts_nothing_ends_with_a_clear_message(deployed, tmp_path):
    target = _target(deployed, "scored")
    file = tmp_path / "june.csv"
    file.write_text("mean_radius\n14.1\n")
    silent = AwsTarget(session=deployed, outputs=target.outputs, config=target.config, description=target.description)

    with pytest.raises(UsageError, match="did not end within 0 s"):
        score_file(silent, file, None, wait_seconds=0.0, sleep=lambda _: None)


def test_the_command_exits_non_zero_for_a_rejected_batch(deployed, tmp_path, capsys, monkeypatch):
    from mlops.cli import main

    target = _target(deployed, "data_rejected")
    monkeypatch.setattr("mlops.aws_target.resolve_target", lambda *args, **kwargs: target)
    file = tmp_path / "june.csv"
    file.write_text("mean_radius\n14.1\n")
    monkeypatch.setattr("mlops.commands.batch.POLL_SECONDS", 0.01)

    status = main(["batch", str(file), "--version", "2"])

    out = capsys.readouterr().out
    assert status == 1
    assert out.startswith("june.csv: data_rejected: data_rejected for the test")
    assert target.uploads == ["batch/v2/june.csv"]


def test_lineage_lists_the_batches_a_version_scored(deployed):
    from datetime import UTC, datetime, timedelta

    from functions.validate_data.batch_audit import batch_audit_record, write_batch_audit
    from mlops.batch_records import batches_scored_by

    s3 = deployed.client("s3")
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    for offset, (execution, version, outcome) in enumerate([("a", 1, "scored"), ("b", 2, "scored"), ("c", 1, "failed")]):
        report = {"outcome": outcome, "reason": "r", "execution_name": execution, "source_uri": f"s3://{BUCKET}/batch/{execution}.csv",
                  "model": {"model_version": version}, "predictions_uri": f"s3://{BUCKET}/predictions/{execution}/p.csv"}
        when = now + timedelta(minutes=offset)
        write_batch_audit(s3, BUCKET, batch_audit_record(report, now=when), execution, when)

    batches = batches_scored_by(s3, BUCKET, 1, now=now + timedelta(hours=1))

    assert [(b["source_uri"].rsplit("/", 1)[-1], b["outcome"]) for b in batches] == [("c.csv", "failed"), ("a.csv", "scored")]
