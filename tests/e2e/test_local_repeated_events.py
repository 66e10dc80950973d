"""EventBridge delivers at least once: the upload's S3 "Object Created" event, delivered again
while its execution runs and after it ended, starts one execution on the local pipeline."""

from __future__ import annotations

import json

import pytest

from functions.common.outcome import Outcome
from mlops.local.cloud import LocalCloud
from mlops.local.runner import execution_result
from tests.support.local_pipeline_runs import init_config, write_csv

pytestmark = pytest.mark.e2e

OBJECT_CREATED = "Object Created"


def _repeat(cloud: LocalCloud, event: dict) -> dict:
    """Deliver `event` again and return what the Start pipeline function answered."""
    delivered = len(cloud.standins.deliveries)
    cloud.standins.publish_event(event)
    [delivery] = [d for d in cloud.standins.deliveries[delivered:] if d.detail_type == OBJECT_CREATED]
    assert delivery.error is None, delivery.result
    return delivery.result


def test_an_upload_event_delivered_three_times_starts_one_execution(tmp_path, breast_cancer_frame):
    data = write_csv(breast_cancer_frame.iloc[:300], tmp_path / "cancer_2024_01.csv")
    config = init_config(data, "target", tmp_path / "pipeline.json")
    with LocalCloud(config) as cloud:
        # Given an upload and the one execution its event started
        [execution_arn] = cloud.upload(data)
        [event] = [
            e
            for e in cloud.standins.published_events
            if e["detail-type"] == OBJECT_CREATED and e["detail"]["object"]["key"] == f"incoming/{data.name}"
        ]
        sfn = cloud.client("stepfunctions")
        assert json.loads(sfn.describe_execution(executionArn=execution_arn)["input"]) == event

        # When EventBridge delivers the same event again while the execution runs, and once it ended
        while_running = _repeat(cloud, event)
        outcome = execution_result(cloud, execution_arn, data.name).outcome
        after_the_end = _repeat(cloud, event)

        # Then each repeat was answered with the first execution, and no other one started
        assert while_running["execution_arn"] == after_the_end["execution_arn"] == execution_arn
        assert after_the_end["outcome"] == "already_started"
        executions = sfn.list_executions(stateMachineArn=cloud.outputs.state_machine_arn)["executions"]
        assert [e["executionArn"] for e in executions] == [execution_arn]
        assert cloud.standins.started_executions == [execution_arn]
        assert outcome == Outcome.DEPLOYED
