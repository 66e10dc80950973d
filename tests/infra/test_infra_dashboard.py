"""The pipeline dashboard: the deployed model version, endpoint, drift, quality, pipeline and
batch metrics, and every alarm."""

from __future__ import annotations

import json

from infra_template import render


def _dashboard(synthesized) -> dict:
    _, dashboard = synthesized.only("AWS::CloudWatch::Dashboard")
    return dashboard["Properties"]


def _widgets(synthesized) -> list[dict]:
    return json.loads(render(_dashboard(synthesized)["DashboardBody"]))["widgets"]


def test_dashboard_is_named_after_the_project(synthesized):
    assert _dashboard(synthesized)["DashboardName"] == f"{synthesized.config.project}-pipeline"


def test_dashboard_shows_every_alarm(synthesized):
    alarm_names = {alarm["Properties"]["AlarmName"] for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values()}

    shown = {
        arn.rsplit(":alarm:", 1)[1]
        for widget in _widgets(synthesized)
        for arn in widget["properties"].get("annotations", {}).get("alarms", [])
    }

    assert shown == alarm_names


def test_dashboard_graphs_endpoint_monitor_and_pipeline_metrics(synthesized):
    graphed = {
        line[1]
        for widget in _widgets(synthesized)
        if widget["properties"].get("view") == "timeSeries"
        for line in widget["properties"].get("metrics", [])
    }

    assert graphed == {
        "Invocations",
        "Invocation5XXErrors",
        "ModelLatency",
        "DriftedFeatureFraction",
        "MaxFeaturePSI",
        "ModelQuality",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "BatchScored",
        "BatchRejected",
        "BatchFailed",
    }


def test_the_batch_metrics_graphed_are_those_the_validate_function_publishes():
    from functions.validate_data.handler import BATCH_METRICS
    from infra.constructs.dashboard import BATCH_OUTCOME_METRICS

    assert set(BATCH_OUTCOME_METRICS) <= set(BATCH_METRICS.values())


def test_dashboard_shows_the_deployed_model_version_of_the_endpoint(synthesized):
    config = synthesized.config

    single_values = [
        line[:4]
        for widget in _widgets(synthesized)
        if widget["properties"].get("view") == "singleValue"
        for line in widget["properties"]["metrics"]
    ]

    assert single_values == [
        [f"{config.project}/monitoring", "DeployedModelVersion", "EndpointName", config.deployment.endpoint_name]
    ]


def test_dashboard_names_the_endpoint_and_the_model_package_group(synthesized):
    (text,) = [widget["properties"]["markdown"] for widget in _widgets(synthesized) if widget["type"] == "text"]

    assert synthesized.config.deployment.endpoint_name in text
    assert synthesized.config.model_package_group in text
