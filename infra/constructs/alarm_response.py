"""The alarm responder: a Lambda function that maps each alarm to rollback, retrain or
notify, with a DynamoDB table that makes repeated alarm events idempotent. After a rollback it
publishes the restored version to the monitoring namespace."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack, aws_dynamodb as dynamodb, aws_iam as iam, aws_kms as kms
from aws_cdk import ArnFormat, aws_s3 as s3, aws_sns as sns, aws_sqs as sqs
from constructs import Construct

from functions.alarm_responder.settings import ResponderSettings
from functions.common import s3_layout
from infra.constructs.lambda_factory import FunctionSpec, LambdaFactory, PipelineFunction
from infra.constructs.monitoring import monitoring_namespace
from infra.constructs.nag import acknowledge
from infra.constructs.permissions import (
    acknowledge_sagemaker_patterns,
    grant_bucket_prefixes,
    grant_key,
    grant_key_grants_for_sagemaker,
    grant_list_model_packages,
    grant_model_packages,
    grant_put_metric_data,
    project_pattern,
    sagemaker_arn,
)

RESPONDER_MEMORY_MB = 512
RESPONDER_TIMEOUT = Duration.minutes(5)
RESPONDER_ASYNC_RETRY_ATTEMPTS = 2
RESPONDER_MAX_EVENT_AGE = Duration.hours(1)
IDEMPOTENCY_PARTITION_KEY = "id"
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"


class AlarmResponse(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: LambdaFactory,
        project: str,
        data_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        topic: sns.ITopic,
        dead_letter_queue: sqs.IQueue,
        model_package_group: str,
        endpoint_name: str,
        state_machine_arn: str,
        model_role: iam.IRole,
        alarm_name_pattern: str,
        alarm_arns: list[str],
    ) -> None:
        super().__init__(scope, construct_id)
        metrics_namespace = monitoring_namespace(project)
        self.idempotency_table = dynamodb.Table(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name=IDEMPOTENCY_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=IDEMPOTENCY_TTL_ATTRIBUTE,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=encryption_key,
            # Idempotency records expire within hours; the audit trail lives in S3.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.function: PipelineFunction = factory.create(
            self,
            "AlarmResponder",
            FunctionSpec(
                name="alarm_responder",
                description="Acts on pipeline alarms: rollback, retrain or notify",
                memory_mb=RESPONDER_MEMORY_MB,
                timeout=RESPONDER_TIMEOUT,
                environment=ResponderSettings(
                    data_bucket=data_bucket.bucket_name,
                    model_package_group=model_package_group,
                    endpoint_name=endpoint_name,
                    topic_arn=topic.topic_arn,
                    state_machine_arn=state_machine_arn,
                    model_role_arn=model_role.role_arn,
                    idempotency_table=self.idempotency_table.table_name,
                    metrics_namespace=metrics_namespace,
                    alarm_arns=",".join(alarm_arns),
                ).to_environment(),
                failure_queue=dead_letter_queue,
                async_retry_attempts=RESPONDER_ASYNC_RETRY_ATTEMPTS,
                async_max_event_age=RESPONDER_MAX_EVENT_AGE,
            ),
        )
        role = self.function.role
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                resources=[self.idempotency_table.table_arn],
            )
        )
        grant_bucket_prefixes(
            role,
            data_bucket,
            # A retrain writes a dataset built from curated/ and newer uploads into incoming/,
            # which starts the pipeline; audit/ records every decision.
            read=[s3_layout.CURATED_PREFIX, s3_layout.INCOMING_PREFIX, s3_layout.AUDIT_PREFIX],
            write=[s3_layout.INCOMING_PREFIX, s3_layout.AUDIT_PREFIX],
            purpose="data bucket",
        )
        grant_key(role, encryption_key, write=True)
        role.add_to_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn]))
        grant_put_metric_data(role, metrics_namespace)
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "cloudwatch:PutMetricData has no resource-level permissions and is limited to the "
            f"{metrics_namespace} namespace by a condition.",
            findings=["Resource::*"],
        )
        self._grant_rollback(role, project, endpoint_name, model_package_group, model_role, encryption_key)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:DescribeAlarms"],
                resources=[
                    Stack.of(self).format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name=alarm_name_pattern,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        acknowledge_sagemaker_patterns(
            role,
            [
                Stack.of(self).format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name=alarm_name_pattern,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            f"Limited to the pipeline's own alarms, all named with the '{project}-' prefix.",
        )

    def _grant_rollback(
        self,
        role: iam.Role,
        project: str,
        endpoint_name: str,
        model_package_group: str,
        model_role: iam.IRole,
        encryption_key: kms.IKey,
    ) -> None:
        endpoint = sagemaker_arn(self, "endpoint", endpoint_name.lower())
        endpoint_configs = sagemaker_arn(self, "endpoint-config", project_pattern(project))
        models = sagemaker_arn(self, "model", project_pattern(project))
        grant_list_model_packages(role)
        grant_model_packages(
            role,
            model_package_group,
            ["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
            include_group=False,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpoint"],
                resources=[endpoint, endpoint_configs],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeEndpointConfig", "sagemaker:CreateEndpointConfig"],
                resources=[endpoint_configs],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeModel", "sagemaker:CreateModel"], resources=[models])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[model_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        grant_key_grants_for_sagemaker(role, encryption_key)
        acknowledge_sagemaker_patterns(
            role,
            [endpoint_configs, models],
            f"A rollback recreates the previous version's model and endpoint config; limited to the "
            f"names the pipeline gives them, with the '{project}-' prefix.",
        )
