"""Where the pipeline keeps data: one customer managed KMS key, the data bucket, the
artifacts bucket and the bucket that receives both buckets' server access logs.

Data bucket layout (S3 has no folders; these are key prefixes, see
functions/common/s3_layout.py):

* ``incoming/``   uploads; an object created here starts the training state machine
* ``curated/``    validated, split datasets by content-hash version, with profile and manifest
* ``quarantine/`` rejected uploads, copied with the reason beside them
* ``reports/``    validation and evaluation reports per execution
* ``capture/``    endpoint data capture
* ``audit/``      alarm responder decisions

Artifacts bucket: ``training-jobs/`` (SageMaker training output).
"""

from __future__ import annotations

import jsii
from aws_cdk import (
    ArnFormat,
    Aws,
    Duration,
    IStableListProducer,
    Lazy,
    RemovalPolicy,
    Stack,
    aws_iam as iam,
    aws_kms as kms,
    aws_logs as logs,
    aws_s3 as s3,
)
from constructs import Construct

from infra.constructs.nag import acknowledge

NONCURRENT_VERSION_RETENTION_DAYS = 90
ACCESS_LOG_RETENTION_DAYS = 365
INCOMPLETE_UPLOAD_EXPIRY_DAYS = 7


# The account's administration and use of the key, delegated to IAM policies. Written out
# instead of "kms:*" so the key policy names every action it allows.
KEY_ACCOUNT_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:ListRetirableGrants",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)


def _account_key_statement() -> iam.PolicyStatement:
    return iam.PolicyStatement(
        principals=[iam.AccountRootPrincipal()],
        actions=list(KEY_ACCOUNT_ACTIONS),
        resources=["*"],
    )


class DataStore(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, project: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the {project} pipeline's data, artifacts, logs, queues and topics",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
            policy=iam.PolicyDocument(statements=[_account_key_statement()]),
        )
        self._allow_service_use_of_key(stack)

        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogBucket",
            # S3 server access logging cannot deliver to a bucket encrypted with SSE-KMS.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(ACCESS_LOG_RETENTION_DAYS),
                    noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_RETENTION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(INCOMPLETE_UPLOAD_EXPIRY_DAYS),
                )
            ],
        )
        acknowledge(
            self.access_log_bucket,
            "AwsSolutions-S1",
            "This bucket is the destination of the other buckets' server access logs; logging "
            "its own access would log into itself.",
        )

        self.data_bucket = self._pipeline_bucket("DataBucket", access_log_prefix="data-bucket/")
        self.artifacts_bucket = self._pipeline_bucket("ArtifactsBucket", access_log_prefix="artifacts-bucket/")

    def _pipeline_bucket(self, construct_id: str, *, access_log_prefix: str) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix=access_log_prefix,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_RETENTION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(INCOMPLETE_UPLOAD_EXPIRY_DAYS),
                )
            ],
        )
        # Bucket(event_bridge_enabled=True) would add a Lambda-backed custom resource; the
        # property is set on the bucket itself so the template deploys without one.
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)
        return bucket

    def _allow_service_use_of_key(self, stack: Stack) -> None:
        usage_actions = [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:DescribeKey",
        ]
        # CloudWatch Logs encrypts the pipeline's log groups with the key, and no other log
        # group of the account: the condition names each of the stack's log groups.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=usage_actions,
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": Lazy.list(_StackLogGroupArns(stack, self.key)),
                    }
                },
            )
        )
        # CloudWatch alarms publish to the encrypted topic; EventBridge delivers failed
        # events to the encrypted dead-letter queue.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                    iam.ServicePrincipal("events.amazonaws.com"),
                ],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )


@jsii.implements(IStableListProducer)
class _StackLogGroupArns:
    """The ARNs of the stack's log groups encrypted with `key`, read when the template is
    written, after every construct has added its log groups.

    A log group without a LogGroupName is named by CloudFormation
    "<stack name>-<logical id>-<random suffix>"; the suffix is the one wildcard."""

    def __init__(self, stack: Stack, key: kms.IKey) -> None:
        self._stack = stack
        self._key = key

    def produce(self) -> list[str]:
        key_arn = self._stack.resolve(self._key.key_arn)
        arns_by_logical_id = {}
        for construct in self._stack.node.find_all():
            if isinstance(construct, logs.CfnLogGroup) and self._stack.resolve(construct.kms_key_id) == key_arn:
                logical_id = self._stack.get_logical_id(construct)
                # The L2 LogGroup sets the name to a token that resolves to nothing when unnamed.
                named = self._stack.resolve(construct.log_group_name) is not None
                name = construct.log_group_name if named else f"{Aws.STACK_NAME}-{logical_id}-*"
                arns_by_logical_id[logical_id] = self._stack.format_arn(
                    service="logs", resource="log-group", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
                )
        return [arns_by_logical_id[logical_id] for logical_id in sorted(arns_by_logical_id)]
