"""The template grants what AWS checks beyond the calls themselves: S3's 404 for a missing key
needs s3:ListBucket without a prefix, CloudWatch publishes alarms to the topic only if its
policy says so, and SageMaker watches auto-rollback alarms as the model's execution role."""

from __future__ import annotations

from infra_template import render
from monitoring_roles import data_bucket_id, role_statements


def _unconditioned_bucket_listing(synthesized, function: str) -> list[str]:
    return [
        render(statement["Resource"])
        for statement in role_statements(synthesized, function)
        if "s3:ListBucket" in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        and "Condition" not in statement
    ]


def test_functions_that_read_keys_which_may_not_exist_may_list_the_bucket(synthesized):
    bucket = f"<{data_bucket_id(synthesized)}.Arn>"
    assert _unconditioned_bucket_listing(synthesized, "validate_data") == [bucket]
    assert _unconditioned_bucket_listing(synthesized, "monitor_drift") == [bucket]


def test_cloudwatch_may_publish_the_projects_alarms_to_the_topic(synthesized):
    (_, policy) = synthesized.only("AWS::SNS::TopicPolicy")
    (statement,) = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sns:Publish"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert render(statement["Condition"]["ArnLike"]["aws:SourceArn"]) == (
        f"arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:{synthesized.config.project}-*"
    )


def test_the_model_role_may_describe_the_auto_rollback_alarms(synthesized):
    (role_id, _) = [
        (logical_id, role)
        for logical_id, role in synthesized.resources("AWS::IAM::Role").items()
        if logical_id.startswith("TrainingModelRole")
    ][0]
    statements = [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "cloudwatch:DescribeAlarms"
    ]
    (statement,) = statements
    project = synthesized.config.project
    assert sorted(render(resource) for resource in statement["Resource"]) == [
        f"arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:{project}-{kind}" for kind in ("errors", "latency")
    ]
