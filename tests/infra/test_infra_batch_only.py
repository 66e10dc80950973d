"""deployment.mode batch_only: no endpoint is created or updated; an approved version is recorded
as the model batch uploads are scored with, and the batch branch is the same. Nothing that
watches an endpoint exists: no endpoint alarms, alarm responder, drift or quality monitor,
endpoint outputs or endpoint dashboard widgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk.assertions import Match
from infra_synthesis import synthesize
from infra_template import render

from infra.outputs import (
    OUTPUT_ALARM_RESPONDER,
    OUTPUT_DATA_BUCKET,
    OUTPUT_ENDPOINT,
    OUTPUT_IDEMPOTENCY_TABLE,
    OUTPUT_MODEL_PACKAGE_GROUP,
    OUTPUT_STATE_MACHINE,
)

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "pipeline.json"


@pytest.fixture(scope="module")
def batch_only(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch-only")
    document = json.loads(EXAMPLE_CONFIG.read_text())
    document.setdefault("deployment", {})["mode"] = "batch_only"
    config = folder / "pipeline.json"
    config.write_text(json.dumps(document))
    return synthesize(config, folder / "cdk.out")


def test_no_state_creates_or_updates_an_endpoint(batch_only):
    states = batch_only.definition()["States"]
    endpoint_calls = [
        name for name, state in states.items()
        if state.get("Resource", "").split(":")[-1] in {"createEndpoint", "updateEndpoint", "createEndpointConfig"}
    ]
    assert endpoint_calls == []
    assert "Start transform job" in states


def test_an_approved_version_becomes_the_batch_model(batch_only):
    states = batch_only.definition()["States"]
    (approved,) = [c for c in states["Approval status?"]["Choices"] if c.get("StringEquals") == "Approved"]
    assert approved["Next"] == "Release deployment lock (batch model)"
    assert states["Record batch model"]["Parameters"]["outcome"] == "deployed"
    assert states["Record batch model"]["Next"] == "Batch model"


ENDPOINT_ALARM_KINDS = ("errors", "latency", "invocation-anomaly", "drift", "quality")
ENDPOINT_WATCHING_FUNCTIONS = ("alarm_responder", "monitor_drift", "monitor_quality")


def _alarm_names(synthesized) -> set[str]:
    return {alarm["Properties"]["AlarmName"] for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values()}


def _dashboard_widgets(synthesized) -> list[dict]:
    _, dashboard = synthesized.only("AWS::CloudWatch::Dashboard")
    return json.loads(render(dashboard["Properties"]["DashboardBody"]))["widgets"]


def _statements(synthesized) -> list[dict]:
    return [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def test_no_alarm_watches_the_endpoint_only_the_pipeline_s_own_alarms_exist(batch_only):
    project = batch_only.config.project

    for kind in ENDPOINT_ALARM_KINDS:
        batch_only.template.resource_properties_count_is(
            "AWS::CloudWatch::Alarm", {"AlarmName": f"{project}-{kind}"}, 0
        )
    batch_only.template.resource_properties_count_is(
        "AWS::CloudWatch::Alarm", {"Namespace": "AWS/SageMaker"}, 0
    )
    batch_only.template.resource_count_is("AWS::CloudWatch::AnomalyDetector", 0)
    assert _alarm_names(batch_only) == {f"{project}-pipeline-failures", f"{project}-dead-letters"}


def test_no_alarm_responder_and_no_drift_or_quality_monitor_exist(batch_only):
    for function in ENDPOINT_WATCHING_FUNCTIONS:
        batch_only.template.resource_properties_count_is(
            "AWS::Lambda::Function",
            {"Environment": {"Variables": Match.object_like({"POWERTOOLS_SERVICE_NAME": function})}},
            0,
        )
    # The deployment lock is the only table: the responder's idempotency table is gone with it.
    batch_only.template.resource_count_is("AWS::DynamoDB::Table", 1)


def test_no_schedule_runs_and_no_alarm_state_change_is_routed(batch_only):
    batch_only.template.resource_properties_count_is(
        "AWS::Events::Rule", {"ScheduleExpression": Match.any_value()}, 0
    )
    batch_only.template.resource_properties_count_is(
        "AWS::Events::Rule", {"EventPattern": Match.object_like({"source": ["aws.cloudwatch"]})}, 0
    )


def test_no_role_is_granted_to_watch_rollback_alarms(batch_only):
    watching = [statement for statement in _statements(batch_only) if "cloudwatch:DescribeAlarms" in _actions(statement)]

    assert watching == []


def test_prepare_deployment_lists_approved_versions_instead_of_reading_an_endpoint(batch_only):
    (function_id,) = [
        name
        for name, function in batch_only.resources("AWS::Lambda::Function").items()
        if function["Properties"].get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME")
        == "prepare_deployment"
    ]
    role = batch_only.template_json["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    actions = {
        action
        for policy in batch_only.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in _actions(statement)
    }

    assert "sagemaker:ListModelPackages" in actions
    assert not {"sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig"} & actions


def test_the_stack_exports_no_endpoint_and_no_alarm_responder(batch_only):
    outputs = batch_only.template_json["Outputs"]

    assert not {OUTPUT_ENDPOINT, OUTPUT_ALARM_RESPONDER, OUTPUT_IDEMPOTENCY_TABLE} & set(outputs)
    assert {OUTPUT_DATA_BUCKET, OUTPUT_STATE_MACHINE, OUTPUT_MODEL_PACKAGE_GROUP} <= set(outputs)


def test_the_dashboard_shows_executions_batch_uploads_and_alarms_but_no_endpoint(batch_only):
    widgets = _dashboard_widgets(batch_only)
    graphed = {
        line[1]
        for widget in widgets
        if widget["properties"].get("view") == "timeSeries"
        for line in widget["properties"].get("metrics", [])
    }
    shown_alarms = {
        arn.rsplit(":alarm:", 1)[1]
        for widget in widgets
        for arn in widget["properties"].get("annotations", {}).get("alarms", [])
    }
    (text,) = [widget["properties"]["markdown"] for widget in widgets if widget["type"] == "text"]

    assert graphed == {"ExecutionsSucceeded", "ExecutionsFailed", "BatchScored", "BatchRejected", "BatchFailed"}
    assert not [widget for widget in widgets if widget["properties"].get("view") == "singleValue"]
    assert shown_alarms == _alarm_names(batch_only)
    assert batch_only.config.deployment.endpoint_name not in text and "batch_only" in text
