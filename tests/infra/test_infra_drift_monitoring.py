"""The drift monitor: its schedule, its least-privilege role, its alarm, and the data capture
location it reads."""

from __future__ import annotations

from aws_cdk.assertions import Match
from infra_template import render, rendered_group_name
from monitoring_roles import (
    actions_of,
    capture_prefix,
    alarm_rule_names,
    assert_role_allows,
    data_bucket_id,
    data_object,
    function_id,
    role_statements,
)



def _sagemaker_arn(resource: str) -> dict:
    return {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, f":{resource}"],
        ]
    }


def test_schedule_rule_runs_the_drift_function_at_the_configured_rate(synthesized):
    minutes = synthesized.config.monitoring.drift_schedule_minutes

    synthesized.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": f"rate({minutes} minutes)",
            "State": "ENABLED",
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [function_id(synthesized, "monitor_drift"), "Arn"]}})],
        },
    )


def test_drift_function_runs_with_the_monitoring_namespace_and_its_size(synthesized):
    config = synthesized.config

    synthesized.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "functions.monitor_drift.handler.lambda_handler",
            "MemorySize": 1024,
            "Timeout": 300,
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "DATA_BUCKET": {"Ref": data_bucket_id(synthesized)},
                        "ENDPOINT_NAME": config.deployment.endpoint_name,
                        "METRICS_NAMESPACE": f"{config.project}/monitoring",
                    }
                )
            },
        },
    )


def test_drift_role_reads_only_the_endpoint_capture_profiles_and_watermark(synthesized):
    assert_role_allows(
        synthesized,
        "monitor_drift",
        {
            "Action": "s3:ListBucket",
            "Resource": {"Fn::GetAtt": [data_bucket_id(synthesized), "Arn"]},
            "Condition": {"StringLike": {"s3:prefix": [capture_prefix(synthesized), f"{capture_prefix(synthesized)}*"]}},
        },
        {
            "Action": "s3:GetObject",
            "Resource": [
                data_object(synthesized, f"{capture_prefix(synthesized)}*"),
                data_object(synthesized, "curated/*/profile.json"),
                data_object(synthesized, "monitoring/drift-watermark.json"),
            ],
        },
    )


def test_drift_role_writes_only_the_watermark_and_drift_reports(synthesized):
    assert_role_allows(
        synthesized,
        "monitor_drift",
        {
            "Action": "s3:PutObject",
            "Resource": [
                data_object(synthesized, "monitoring/drift-watermark.json"),
                data_object(synthesized, "reports/monitoring/drift/*"),
            ],
        },
    )


def test_drift_role_follows_the_endpoint_to_its_model_package(synthesized):
    project = synthesized.config.project
    assert_role_allows(
        synthesized,
        "monitor_drift",
        {"Action": "sagemaker:DescribeEndpoint", "Resource": _sagemaker_arn(f"endpoint/{synthesized.config.deployment.endpoint_name}")},
        {"Action": "sagemaker:DescribeEndpointConfig", "Resource": _sagemaker_arn(f"endpoint-config/{project}-*")},
        {"Action": "sagemaker:DescribeModel", "Resource": _sagemaker_arn(f"model/{project}-*")},
    )
    (packages,) = [
        render(statement["Resource"])
        for statement in role_statements(synthesized, "monitor_drift")
        if statement["Action"] == "sagemaker:DescribeModelPackage"
    ]
    group = rendered_group_name(synthesized.config.model_package_group)
    assert packages == f"arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:model-package/{group}/*"


def test_drift_role_puts_metrics_only_into_the_monitoring_namespace(synthesized):
    assert_role_allows(
        synthesized,
        "monitor_drift",
        {
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": f"{synthesized.config.project}/monitoring"}},
        },
    )


def test_drift_role_uses_unscoped_resources_only_for_apis_without_resource_permissions(synthesized):
    unscoped = {"sagemaker:ListEndpoints", "cloudwatch:PutMetricData", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    statements = role_statements(synthesized, "monitor_drift")

    wildcard_actions = {action for s in statements if s["Resource"] == "*" for action in actions_of(s)}

    assert wildcard_actions == unscoped
    assert not [action for s in statements for action in actions_of(s) if "*" in action]
    assert {action for s in statements for action in actions_of(s) if action.startswith("kms:")} == {
        "kms:Decrypt",
        "kms:GenerateDataKey",
    }


def test_drift_alarm_fires_on_the_fraction_of_drifted_features(synthesized):
    config = synthesized.config

    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": f"{config.project}-drift",
            "Namespace": f"{config.project}/monitoring",
            "MetricName": "DriftedFeatureFraction",
            "Dimensions": [{"Name": "EndpointName", "Value": config.deployment.endpoint_name}],
            "Statistic": "Maximum",
            "Period": config.monitoring.drift_schedule_minutes * 60,
            "Threshold": config.drift.alarm_threshold,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
        },
    )


def test_drift_alarm_is_routed_to_the_responder(synthesized):
    assert f"{synthesized.config.project}-drift" in alarm_rule_names(synthesized)


def test_data_capture_uri_has_no_trailing_slash(synthesized):
    # SageMaker appends /<endpoint>/<variant>/... to the URI; the drift monitor lists capture/<endpoint>/.
    parameters = synthesized.definition()["States"]["Create endpoint config"]["Parameters"]

    uri = render(parameters["DataCaptureConfig"]["DestinationS3Uri"])

    assert uri == f"s3://<{data_bucket_id(synthesized)}>/capture"
