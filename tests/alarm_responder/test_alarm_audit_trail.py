"""Audit records written under any alarm name are read back, so cooldown and caps hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from functions.alarm_responder import actions, responder

BUCKET = "mlops-data"
NOW = datetime(2024, 6, 3, 11, 0, 30, tzinfo=UTC)


@pytest.fixture
def s3(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.mark.parametrize("alarm_name", ["mlops-drift/../x", "x" * 300, "../../audit"])
def test_a_retrain_recorded_under_a_hostile_alarm_name_counts_for_the_cooldown(s3, alarm_name):
    # Given a retrain decided ten minutes ago for an alarm whose name holds "/", ".." or 300 characters
    decided_at = NOW - timedelta(minutes=10)
    record = {
        "who": {"alarm": alarm_name},
        "what": {"action": "retrain", "outcome": "retrain started", "status": "acted"},
        "when": {"decided_at": decided_at.isoformat()},
    }
    actions.write_audit_record(s3, BUCKET, responder.audit_key(alarm_name, decided_at), record)

    # When the responder reads the last day's decisions
    past = actions.read_past_decisions(s3, BUCKET, NOW)

    # Then that retrain is among them, so the cooldown and the daily cap see it
    assert [(p.action, p.status, p.decided_at) for p in past] == [("retrain", "acted", decided_at)]
