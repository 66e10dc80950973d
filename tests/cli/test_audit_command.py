"""`mlops audit`: the alarm responder's decisions and the operators' actions, newest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3

from functions.alarm_responder import actions, responder
from functions.alarm_responder.responder import AlarmStateChangeDetail, RegisteredVersion
from functions.common.serving_model import ServingModel
from mlops.cli import main
from mlops.cli_support import EXIT_OK, EXIT_USAGE
from registry_cli_support import DATA_BUCKET, ENDPOINT_NAME, OPERATOR, pipeline_config

ALARM = "mlops-errors"
ALARM_REASON = "Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0)."


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def write_alarm_decision(hours_ago: float) -> str:
    """The record the alarm responder writes for a rollback it decided `hours_ago` hours ago."""
    now = datetime.now(UTC) - timedelta(hours=hours_ago)
    change = AlarmStateChangeDetail.model_validate({
        "alarmName": ALARM,
        "state": {"value": "ALARM", "reason": ALARM_REASON, "timestamp": now.isoformat()},
        "previousState": {"value": "OK", "reason": "", "timestamp": now.isoformat()},
    })
    serving = ServingModel(ENDPOINT_NAME, "InService", "mlops-v4-config", "mlops-v4", 4, "arn:package/4")
    decision = responder.decide(
        change, pipeline_config(), now=now, serving=serving,
        previous_version=RegisteredVersion(version=3, model_package_arn="arn:package/3"),
    )
    record = responder.audit_record(
        decision, change, responder="arn:aws:lambda:us-east-1:123456789012:function:mlops-alarm-responder",
        alarm_arn=None, now=now, details={},
    )
    key = responder.audit_key(ALARM, now)
    actions.write_audit_record(boto3.client("s3"), DATA_BUCKET, key, record)
    return key


def test_audit_lists_a_rollback_and_an_alarm_decision_newest_first(deployment, capsys):
    # Given an alarm decision an hour ago, then an operator's rollback now
    write_alarm_decision(hours_ago=1)
    assert run(capsys, "rollback", "--reason", "latency doubled after the deploy")[0] == EXIT_OK

    # When the audit log is listed
    status, out, _ = run(capsys, "audit")

    # Then the rollback comes first with who, action, outcome, versions and reason
    assert status == EXIT_OK
    rollback_line, alarm_line = out.splitlines()
    assert f"mlops rollback ({OPERATOR})" in rollback_line
    assert "rolled back from version 2 to version 1" in rollback_line
    assert "v2 -> v1" in rollback_line
    assert rollback_line.endswith(f"Rolled back by {OPERATOR} with mlops rollback: latency doubled after the deploy.")
    assert ALARM in alarm_line
    assert "v4 -> v3" in alarm_line
    assert alarm_line.endswith(f"Alarm {ALARM} went from OK to ALARM: {ALARM_REASON}")


def test_since_leaves_out_older_records(deployment, capsys):
    write_alarm_decision(hours_ago=30)
    recent_key = write_alarm_decision(hours_ago=2)

    status, out, _ = run(capsys, "audit", "--since", "24", "--json")

    assert status == EXIT_OK
    [entry] = [json.loads(line) for line in out.splitlines()]
    assert entry["key"] == recent_key
    assert entry["record"]["what"]["action"] == "rollback"
    assert entry["record"]["who"]["alarm"] == ALARM


def test_an_unreadable_record_is_shown_not_fatal(deployment, capsys):
    write_alarm_decision(hours_ago=1)
    broken_key = responder.audit_key(ALARM, datetime.now(UTC))
    boto3.client("s3").put_object(Bucket=DATA_BUCKET, Key=broken_key, Body=b"{not json")

    status, out, _ = run(capsys, "audit")

    assert status == EXIT_OK
    first, second = out.splitlines()
    assert first.endswith(f"unreadable audit record {broken_key}")
    assert ALARM in second


def test_empty_audit_log(deployment, capsys):
    status, out, _ = run(capsys, "audit", "--since", "6")

    assert status == EXIT_OK
    assert out.strip() == f"No audit records in s3://{DATA_BUCKET}/audit/ in the last 6 hours."


def test_since_must_be_positive(environment, capsys):
    status, out, err = run(capsys, "audit", "--since", "0")

    assert status == EXIT_USAGE
    assert out == ""
    assert err.strip() == "mlops audit: --since takes a positive number of hours"
