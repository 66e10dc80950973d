"""Alarms on the endpoint and the pipeline, routed to the alarm responder and the topic."""

from __future__ import annotations

from aws_cdk.assertions import Match


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

    assert len(alarms) == 5
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
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [responder_id, "Arn"]}
    assert "DeadLetterConfig" in target and "RetryPolicy" in target
    synthesized.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"FunctionName": {"Fn::GetAtt": [responder_id, "Arn"]}, "Principal": "events.amazonaws.com"},
    )
