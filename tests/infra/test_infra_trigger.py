"""An upload under incoming/ reaches the state machine: S3 -> EventBridge -> the Start pipeline
function -> Step Functions; so does an approval of a version of the pipeline's group in the Model
Registry. The function names each execution after its event, so a repeated event starts one."""

from __future__ import annotations

from aws_cdk.assertions import Match

from infra_template import render, rendered_group_name

from functions.common import s3_layout


def _data_bucket_id(synthesized) -> str:
    outputs = synthesized.template_json["Outputs"]
    return outputs["DataBucketName"]["Value"]["Ref"]


def test_data_bucket_sends_events_to_eventbridge_without_a_custom_resource(synthesized):
    bucket = synthesized.template_json["Resources"][_data_bucket_id(synthesized)]

    notification = bucket["Properties"]["NotificationConfiguration"]

    assert notification == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


def test_no_custom_resources_anywhere(synthesized):
    types = {resource["Type"] for resource in synthesized.template_json["Resources"].values()}

    assert not [t for t in types if t.startswith("Custom::") or t == "AWS::CloudFormation::CustomResource"]


def test_upload_rule_matches_objects_created_under_incoming(synthesized):
    synthesized.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [{"Ref": _data_bucket_id(synthesized)}]},
                    "object": {"key": [{"prefix": s3_layout.INCOMING_PREFIX}]},
                },
            },
            "State": "ENABLED",
        },
    )


def _start_pipeline(synthesized) -> tuple[str, dict]:
    [(function_id, function)] = [
        (logical_id, function)
        for logical_id, function in synthesized.resources("AWS::Lambda::Function").items()
        if function["Properties"]["Handler"] == "functions.start_pipeline.handler.lambda_handler"
    ]
    return function_id, function


def _rule_from(synthesized, source, prefix=s3_layout.INCOMING_PREFIX):
    """The rule that sends events from `source` (under `prefix`, for S3) to the Start pipeline function."""
    function_id, _ = _start_pipeline(synthesized)
    rules = [
        rule
        for rule in synthesized.resources("AWS::Events::Rule").values()
        if rule["Properties"].get("EventPattern", {}).get("source") == [source]
        and (
            source != "aws.s3"
            or rule["Properties"]["EventPattern"]["detail"]["object"]["key"] == [{"prefix": prefix}]
        )
        and [target["Arn"] for target in rule["Properties"]["Targets"]] == [{"Fn::GetAtt": [function_id, "Arn"]}]
    ]
    assert len(rules) == 1, source
    return rules[0]


def test_approval_rule_matches_approvals_in_the_pipeline_group_on_the_default_bus(synthesized):
    rule = _rule_from(synthesized, "aws.sagemaker")

    pattern = rule["Properties"]["EventPattern"]
    detail = dict(pattern["detail"])
    groups = detail.pop("ModelPackageGroupName")
    assert [render(group) for group in groups] == [rendered_group_name(synthesized.config.model_package_group)]
    assert {**pattern, "detail": detail} == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelApprovalStatus": ["Approved"]},
    }
    assert "EventBusName" not in rule["Properties"]
    assert rule["Properties"]["State"] == "ENABLED"


def test_upload_and_approval_rules_target_the_start_pipeline_function_with_retry_and_dead_letter_queue(synthesized):
    function_id, _ = _start_pipeline(synthesized)
    queue_id, queue = synthesized.only("AWS::SQS::Queue")

    (upload_target,) = _rule_from(synthesized, "aws.s3")["Properties"]["Targets"]
    (approval_target,) = _rule_from(synthesized, "aws.sagemaker")["Properties"]["Targets"]
    (batch_target,) = _rule_from(synthesized, "aws.s3", "batch/")["Properties"]["Targets"]
    assert {key: value for key, value in batch_target.items() if key != "Id"} == {
        key: value for key, value in upload_target.items() if key != "Id"
    }

    target = upload_target
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert "RoleArn" not in target  # EventBridge invokes a function through its resource policy
    assert "Input" not in target and "InputPath" not in target and "InputTransformer" not in target
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] > 0
    assert "KmsMasterKeyId" in queue["Properties"]
    assert {key: value for key, value in approval_target.items() if key != "Id"} == {
        key: value for key, value in upload_target.items() if key != "Id"
    }
    synthesized.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"FunctionName": {"Fn::GetAtt": [function_id, "Arn"]}, "Principal": "events.amazonaws.com"},
    )


def test_start_pipeline_sends_its_failed_invocations_to_the_dead_letter_queue(synthesized):
    function_id, _ = _start_pipeline(synthesized)
    queue_id, _ = synthesized.only("AWS::SQS::Queue")

    synthesized.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": function_id},
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}},
            "MaximumRetryAttempts": Match.any_value(),
        },
    )


def test_start_pipeline_reads_the_state_machine_it_starts_from_its_environment(synthesized):
    machine_id, _ = synthesized.only("AWS::StepFunctions::StateMachine")
    _, function = _start_pipeline(synthesized)

    assert function["Properties"]["Environment"]["Variables"]["STATE_MACHINE_ARN"] == {"Ref": machine_id}


def _actions(statement):
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def _statements_of(synthesized, role_id):
    return [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_start_pipeline_role_may_only_start_the_state_machine(synthesized):
    machine_id, _ = synthesized.only("AWS::StepFunctions::StateMachine")
    _, function = _start_pipeline(synthesized)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]

    synthesized.template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [{"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": machine_id}}]
                )
            },
            "Roles": [{"Ref": role_id}],
        },
    )
    states_actions = [
        (statement["Action"], statement["Resource"])
        for statement in _statements_of(synthesized, role_id)
        if any(action.startswith("states:") for action in _actions(statement))
    ]
    assert states_actions == [("states:StartExecution", {"Ref": machine_id})]


def test_no_role_lets_eventbridge_start_the_state_machine(synthesized):
    machine_id, _ = synthesized.only("AWS::StepFunctions::StateMachine")

    assert not [
        role_id
        for role_id, role in synthesized.resources("AWS::IAM::Role").items()
        if role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service")
        == "events.amazonaws.com"
    ]
    for rule in synthesized.resources("AWS::Events::Rule").values():
        assert {"Ref": machine_id} not in [target["Arn"] for target in rule["Properties"].get("Targets", [])]
