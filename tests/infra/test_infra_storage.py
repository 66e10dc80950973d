"""Buckets, key and table: encrypted, versioned, TLS-only, private, retained."""

from __future__ import annotations

from aws_cdk.assertions import Match
from infra_template import render, rendered_group_name

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


def _pipeline_bucket_ids(synthesized) -> list[str]:
    outputs = synthesized.template_json["Outputs"]
    return [outputs["DataBucketName"]["Value"]["Ref"], outputs["ArtifactsBucketName"]["Value"]["Ref"]]


def test_pipeline_buckets_use_the_customer_managed_key(synthesized):
    key_id, key = synthesized.only("AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    for bucket_id in _pipeline_bucket_ids(synthesized):
        encryption = synthesized.template_json["Resources"][bucket_id]["Properties"]["BucketEncryption"]

        (rule,) = encryption["ServerSideEncryptionConfiguration"]

        assert rule["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
        }


def test_every_bucket_is_versioned_private_retained_and_logged(synthesized):
    buckets = synthesized.resources("AWS::S3::Bucket")
    assert len(buckets) == 3
    for bucket_id, bucket in buckets.items():
        properties = bucket["Properties"]
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}, bucket_id
        assert properties["PublicAccessBlockConfiguration"] == BLOCK_ALL, bucket_id
        assert bucket["DeletionPolicy"] == "Retain", bucket_id
        assert bucket["UpdateReplacePolicy"] == "Retain", bucket_id
    for bucket_id in _pipeline_bucket_ids(synthesized):
        assert "DestinationBucketName" in buckets[bucket_id]["Properties"]["LoggingConfiguration"]


def test_every_bucket_policy_denies_requests_without_tls(synthesized):
    buckets = synthesized.resources("AWS::S3::Bucket")
    policies = synthesized.resources("AWS::S3::BucketPolicy").values()
    covered = set()
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} and statement["Effect"] == "Deny":
                covered.add(policy["Properties"]["Bucket"]["Ref"])

    assert covered == set(buckets)


def test_idempotency_table_matches_the_powertools_layout(synthesized):
    key_id, _ = synthesized.only("AWS::KMS::Key")

    synthesized.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": Match.object_like(
                {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
            ),
        },
    )


def test_model_package_group_and_endpoint_are_named_from_the_config(synthesized):
    config = synthesized.config
    outputs = synthesized.template_json["Outputs"]
    (_, group) = synthesized.only("AWS::SageMaker::ModelPackageGroup")

    # The retained group carries its stack's id: a deployment after `cdk destroy` gets a new one.
    assert group["DeletionPolicy"] == "Retain"
    assert render(group["Properties"]["ModelPackageGroupName"]) == rendered_group_name(config.model_package_group)
    assert render(outputs["ModelPackageGroupName"]["Value"]) == rendered_group_name(config.model_package_group)
    assert outputs["EndpointName"]["Value"] == config.deployment.endpoint_name


def test_outputs_the_cli_and_local_runtime_read(synthesized):
    outputs = synthesized.template_json["Outputs"]

    assert {
        "DataBucketName",
        "ArtifactsBucketName",
        "StateMachineArn",
        "TopicArn",
        "EndpointName",
        "ModelPackageGroupName",
    } <= set(outputs)
    assert synthesized.stack.stack_name == f"{synthesized.config.project}-pipeline"


def test_the_key_is_retained_with_the_buckets_it_encrypts(synthesized):
    _, key = synthesized.only("AWS::KMS::Key")

    assert key["DeletionPolicy"] == "Retain"
    assert key["UpdateReplacePolicy"] == "Retain"


def test_the_topic_is_encrypted_with_the_key(synthesized):
    key_id, _ = synthesized.only("AWS::KMS::Key")
    _, topic = synthesized.only("AWS::SNS::Topic")

    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


def _stack_log_group_arn(logical_id: str) -> dict:
    """The ARN pattern of a log group CloudFormation names "<stack name>-<logical id>-<suffix>"."""
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":logs:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":log-group:",
                {"Ref": "AWS::StackName"},
                f"-{logical_id}-*",
            ],
        ]
    }


def test_the_logs_service_may_use_the_key_for_the_stacks_own_log_groups_only(synthesized):
    logs_service = {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
    stack_log_groups = [_stack_log_group_arn(logical_id) for logical_id in sorted(synthesized.resources("AWS::Logs::LogGroup"))]

    synthesized.template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with([
                    Match.object_like({
                        "Principal": {"Service": logs_service},
                        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": stack_log_groups}},
                    })
                ])
            }
        },
    )
    (key,) = synthesized.resources("AWS::KMS::Key").values()
    grants_to_logs = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": logs_service}]
    assert len(grants_to_logs) == 1
    assert stack_log_groups
