"""Alarms on the endpoint and the pipeline, routed to the alarm responder and the topic."""

from __future__ import annotations

from aws_cdk.assertions import Match
from monitoring_roles import assert_role_allows

ENDPOINT_VARIANT = "AllTraffic"


def _variant_dimensions(config) -> list[dict]:
    return [
        {"Name": "EndpointName", "Value": config.deployment.endpoint_name},
        {"Name": "VariantName", "Value": ENDPOINT_VARIANT},
    ]


def test_errors_alarm_sums_5xx_errors_of_the_all_traffic_variant(synthesized):
    config = synthesized.config
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": f"{config.project}-errors",
            "Namespace": "AWS/SageMaker",
            "MetricName": "Invocation5XXErrors",
            "Statistic": "Sum",
            "Threshold": config.monitoring.error_5xx_threshold,
            "Period": config.monitoring.period_seconds,
            "Dimensions": Match.array_equals(
                [
                    {"Name": "EndpointName", "Value": config.deployment.endpoint_name},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ]
            ),
        },
    )


def test_latency_alarm_watches_p99_model_latency_in_microseconds(synthesized):
    config = synthesized.config
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": f"{config.project}-latency",
            "MetricName": "ModelLatency",
            "ExtendedStatistic": "p99",
            "Threshold": config.monitoring.latency_p99_threshold_ms * 1000,
        },
    )


def test_invocations_anomaly_detector_learns_the_variant_invocation_sum(synthesized):
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::AnomalyDetector",
        {
            "SingleMetricAnomalyDetector": {
                "Namespace": "AWS/SageMaker",
                "MetricName": "Invocations",
                "Stat": "Sum",
                "Dimensions": Match.array_equals(_variant_dimensions(synthesized.config)),
            }
        },
    )


def test_invocation_anomaly_alarm_fires_outside_the_configured_band(synthesized):
    config = synthesized.config
    monitoring = config.monitoring
    width = f"{monitoring.invocation_anomaly_band_width:g}"
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": f"{config.project}-invocation-anomaly",
            "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold",
            "EvaluationPeriods": monitoring.invocation_anomaly_evaluation_periods,
            "ThresholdMetricId": Match.any_value(),
            "Metrics": Match.array_with(
                [
                    Match.object_like({"Expression": Match.string_like_regexp(rf"^ANOMALY_DETECTION_BAND\(\w+, {width}\)$")}),
                    Match.object_like(
                        {
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": "AWS/SageMaker",
                                    "MetricName": "Invocations",
                                    "Dimensions": Match.array_equals(_variant_dimensions(config)),
                                },
                                "Period": monitoring.invocation_anomaly_period_seconds,
                                "Stat": "Sum",
                            },
                        }
                    ),
                ]
            ),
        },
    )


def test_invocation_anomaly_alarm_threshold_is_the_band_of_the_invocations(synthesized):
    (alarm,) = [
        alarm["Properties"]
        for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"]["AlarmName"] == f"{synthesized.config.project}-invocation-anomaly"
    ]
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    (invocations_id,) = [query_id for query_id, query in queries.items() if "MetricStat" in query]

    band = queries[alarm["ThresholdMetricId"]]

    assert band["Expression"].startswith(f"ANOMALY_DETECTION_BAND({invocations_id}, ")
    assert "Threshold" not in alarm


def test_pipeline_failures_alarm_watches_the_state_machine(synthesized):
    machine_id, _ = synthesized.only("AWS::StepFunctions::StateMachine")
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": f"{synthesized.config.project}-pipeline-failures",
            "Namespace": "AWS/States",
            "MetricName": "ExecutionsFailed",
            "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": machine_id}}],
        },
    )


def test_every_alarm_notifies_the_topic(synthesized):
    topic_id, _ = synthesized.only("AWS::SNS::Topic")
    alarms = synthesized.resources("AWS::CloudWatch::Alarm")

    assert len(alarms) == 7
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic_id}]


def test_alarm_state_changes_reach_the_responder(synthesized):
    project = synthesized.config.project
    (responder_id,) = [
        logical_id
        for logical_id, function in synthesized.resources("AWS::Lambda::Function").items()
        if function["Properties"]["Handler"] == "functions.alarm_responder.handler.lambda_handler"
    ]
    alarm_names = {alarm["Properties"]["AlarmName"] for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values()}
    (rule,) = [
        rule
        for rule in synthesized.resources("AWS::Events::Rule").values()
        if rule["Properties"].get("EventPattern", {}).get("source") == ["aws.cloudwatch"]
    ]
    pattern = rule["Properties"]["EventPattern"]

    assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    assert alarm_names <= set(pattern["detail"]["alarmName"])
    assert f"{project}-drift" in pattern["detail"]["alarmName"]
    assert f"{project}-invocation-anomaly" in pattern["detail"]["alarmName"]
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [responder_id, "Arn"]}
    assert "DeadLetterConfig" in target and "RetryPolicy" in target
    synthesized.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"FunctionName": {"Fn::GetAtt": [responder_id, "Arn"]}, "Principal": "events.amazonaws.com"},
    )


def test_responder_puts_metrics_only_into_the_monitoring_namespace(synthesized):
    assert_role_allows(
        synthesized,
        "alarm_responder",
        {
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": f"{synthesized.config.project}/monitoring"}},
        },
    )


def test_a_message_in_the_dead_letter_queue_raises_an_alarm(synthesized):
    queue_id, _ = synthesized.only("AWS::SQS::Queue")
    topic_id, _ = synthesized.only("AWS::SNS::Topic")

    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}],
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 1,
            "AlarmActions": [{"Ref": topic_id}],
        },
    )
