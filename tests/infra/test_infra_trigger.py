"""An upload under incoming/ reaches the state machine: S3 -> EventBridge -> Step Functions; so
does an approval of a version of the pipeline's group in the Model Registry."""

from __future__ import annotations

from aws_cdk.assertions import Match

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


def _rule_from(synthesized, source):
    """The rule that starts the state machine on events from `source`."""
    machine_id, _ = synthesized.only("AWS::StepFunctions::StateMachine")
    rules = [
        rule
        for rule in synthesized.resources("AWS::Events::Rule").values()
        if rule["Properties"].get("EventPattern", {}).get("source") == [source]
        and [target["Arn"] for target in rule["Properties"]["Targets"]] == [{"Ref": machine_id}]
    ]
    assert len(rules) == 1, source
    return rules[0]


def test_approval_rule_matches_approvals_in_the_pipeline_group_on_the_default_bus(synthesized):
    rule = _rule_from(synthesized, "aws.sagemaker")

    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {
            "ModelPackageGroupName": [synthesized.config.model_package_group],
            "ModelApprovalStatus": ["Approved"],
        },
    }
    assert "EventBusName" not in rule["Properties"]
    assert rule["Properties"]["State"] == "ENABLED"


def test_upload_and_approval_rules_target_the_state_machine_with_one_role_retry_and_dead_letter_queue(synthesized):
    machine_id, _ = synthesized.only("AWS::StepFunctions::StateMachine")
    queue_id, queue = synthesized.only("AWS::SQS::Queue")

    (upload_target,) = _rule_from(synthesized, "aws.s3")["Properties"]["Targets"]
    (approval_target,) = _rule_from(synthesized, "aws.sagemaker")["Properties"]["Targets"]

    target = upload_target
    assert target["Arn"] == {"Ref": machine_id}
    assert "Fn::GetAtt" in target["RoleArn"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] > 0
    assert "KmsMasterKeyId" in queue["Properties"]
    assert {key: value for key, value in approval_target.items() if key != "Id"} == {
        key: value for key, value in upload_target.items() if key != "Id"
    }


def test_trigger_role_may_only_start_the_state_machine(synthesized):
    machine_id, _ = synthesized.only("AWS::StepFunctions::StateMachine")

    synthesized.template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": machine_id}}
                ]
            },
            "Roles": [Match.object_like({"Ref": Match.string_like_regexp("WorkflowTriggersRole")})],
        },
    )
