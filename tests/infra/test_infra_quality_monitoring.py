"""The quality monitor: the ground-truth rule, its least-privilege role and its alarm."""

from __future__ import annotations

from aws_cdk.assertions import Match
from monitoring_roles import (
    capture_prefix,
    actions_of,
    alarm_rule_names,
    assert_role_allows,
    data_bucket_id,
    data_object,
    function_id,
    role_statements,
)

from functions.common.config import LOWER_IS_BETTER_METRICS



def test_ground_truth_rule_runs_the_quality_function_for_objects_created_under_ground_truth(synthesized):
    synthesized.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [{"Ref": data_bucket_id(synthesized)}]},
                    "object": {"key": [{"prefix": "ground-truth/"}]},
                },
            },
            "State": "ENABLED",
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [function_id(synthesized, "monitor_quality"), "Arn"]}})],
        },
    )


def test_quality_role_reads_ground_truth_and_the_endpoint_capture(synthesized):
    assert_role_allows(
        synthesized,
        "monitor_quality",
        {"Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": data_object(synthesized, "ground-truth/*")},
        {
            "Action": "s3:ListBucket",
            "Resource": {"Fn::GetAtt": [data_bucket_id(synthesized), "Arn"]},
            "Condition": {"StringLike": {"s3:prefix": [capture_prefix(synthesized), f"{capture_prefix(synthesized)}*"]}},
        },
        {"Action": "s3:GetObject", "Resource": data_object(synthesized, f"{capture_prefix(synthesized)}*")},
    )


def test_quality_role_writes_only_quality_reports(synthesized):
    writes = [s for s in role_statements(synthesized, "monitor_quality") if "s3:PutObject" in actions_of(s)]

    assert writes == [{"Action": "s3:PutObject", "Effect": "Allow", "Resource": data_object(synthesized, "reports/monitoring/quality/*")}]


def test_quality_role_has_no_sagemaker_access_and_namespaced_metrics(synthesized):
    statements = role_statements(synthesized, "monitor_quality")
    actions = {action for s in statements for action in actions_of(s)}

    wildcard_actions = {action for s in statements if s["Resource"] == "*" for action in actions_of(s)}

    assert not [action for action in actions if action.startswith("sagemaker:") or "*" in action]
    assert wildcard_actions == {
        "cloudwatch:PutMetricData",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert_role_allows(
        synthesized,
        "monitor_quality",
        {
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": f"{synthesized.config.project}/monitoring"}},
        },
    )


def test_quality_alarm_fires_when_the_primary_metric_crosses_its_gate(synthesized):
    config = synthesized.config
    metric = config.gates.primary_metric
    # Given the example config's higher-is-better primary metric with a gate threshold
    assert metric not in LOWER_IS_BETTER_METRICS and metric in config.gates.thresholds

    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": f"{config.project}-quality",
            "Namespace": f"{config.project}/monitoring",
            "MetricName": "ModelQuality",
            "Dimensions": Match.array_equals(
                [
                    {"Name": "EndpointName", "Value": config.deployment.endpoint_name},
                    {"Name": "MetricName", "Value": metric},
                ]
            ),
            "Threshold": config.gates.thresholds[metric],
            "ComparisonOperator": "LessThanThreshold",
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
        },
    )


def test_quality_alarm_is_routed_to_the_responder(synthesized):
    assert f"{synthesized.config.project}-quality" in alarm_rule_names(synthesized)
