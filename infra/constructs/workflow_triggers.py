"""What starts the training state machine, through EventBridge rules on the default bus:
an object created under incoming/ in the data bucket (S3 sends its events to EventBridge,
see DataStore), and a version of the pipeline's model package group approved in the Model
Registry. Every rule invokes one Start pipeline function, with one dead-letter queue and retry
policy; the function names the execution after the event's id, so an event EventBridge
delivers more than once starts one execution."""

from __future__ import annotations

from aws_cdk import Duration, aws_events as events, aws_events_targets as targets, aws_iam as iam
from aws_cdk import aws_kms as kms, aws_s3 as s3, aws_sqs as sqs, aws_stepfunctions as sfn
from constructs import Construct

from functions.common import s3_layout
from functions.common.batch_layout import BATCH_PREFIX
from functions.start_pipeline.settings import StartPipelineSettings
from infra.constructs.lambda_factory import FunctionSpec, LambdaFactory, PipelineFunction

TRIGGER_EVENT_MAX_AGE = Duration.hours(2)
TRIGGER_EVENT_RETRY_ATTEMPTS = 8
START_PIPELINE_MEMORY_MB = 256
START_PIPELINE_TIMEOUT = Duration.seconds(30)
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
APPROVED = "Approved"
# What a sender to an SQS queue encrypted with a customer managed key needs of the key; the
# function's failed events reach the dead-letter queue as this function's role.
QUEUE_SENDER_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


def object_created_pattern(bucket: s3.IBucket, prefix: str) -> events.EventPattern:
    """S3's EventBridge event for an object created under `prefix` of `bucket`."""
    return events.EventPattern(
        source=["aws.s3"],
        detail_type=["Object Created"],
        detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": [{"prefix": prefix}]}},
    )


def upload_event_pattern(data_bucket: s3.IBucket) -> events.EventPattern:
    return object_created_pattern(data_bucket, s3_layout.INCOMING_PREFIX)


def batch_upload_event_pattern(data_bucket: s3.IBucket) -> events.EventPattern:
    return object_created_pattern(data_bucket, BATCH_PREFIX)


def approval_event_pattern(model_package_group: str) -> events.EventPattern:
    return events.EventPattern(
        source=["aws.sagemaker"],
        detail_type=[MODEL_PACKAGE_STATE_CHANGE],
        detail={"ModelPackageGroupName": [model_package_group], "ModelApprovalStatus": [APPROVED]},
    )


class WorkflowTriggers(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: LambdaFactory,
        state_machine: sfn.IStateMachine,
        dead_letter_queue: sqs.IQueue,
        encryption_key: kms.IKey,
        data_bucket: s3.IBucket,
        model_package_group: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self._dead_letter_queue = dead_letter_queue
        self.function = self._start_pipeline_function(
            factory, state_machine, dead_letter_queue, data_bucket, model_package_group
        )
        self._grant_start_execution(state_machine)
        self._grant_dead_letter_queue_key(encryption_key)

    def _start_pipeline_function(
        self,
        factory: LambdaFactory,
        state_machine: sfn.IStateMachine,
        dead_letter_queue: sqs.IQueue,
        data_bucket: s3.IBucket,
        model_package_group: str,
    ) -> PipelineFunction:
        return factory.create(
            self,
            "StartPipeline",
            FunctionSpec(
                name="start_pipeline",
                description="Starts the training state machine once per event, named after the event's id",
                memory_mb=START_PIPELINE_MEMORY_MB,
                timeout=START_PIPELINE_TIMEOUT,
                environment=StartPipelineSettings(
                    state_machine_arn=state_machine.state_machine_arn,
                    data_bucket=data_bucket.bucket_name,
                    model_package_group=model_package_group,
                ).to_environment(),
                failure_queue=dead_letter_queue,
            ),
        )

    def _grant_start_execution(self, state_machine: sfn.IStateMachine) -> None:
        self.function.add_statements(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[state_machine.state_machine_arn])
        )

    def _grant_dead_letter_queue_key(self, encryption_key: kms.IKey) -> None:
        self.function.add_statements(
            iam.PolicyStatement(actions=list(QUEUE_SENDER_KEY_ACTIONS), resources=[encryption_key.key_arn])
        )

    def add_rule(self, rule_id: str, *, description: str, event_pattern: events.EventPattern) -> events.Rule:
        return events.Rule(
            self,
            rule_id,
            description=description,
            event_pattern=event_pattern,
            targets=[
                targets.LambdaFunction(
                    self.function.function,
                    dead_letter_queue=self._dead_letter_queue,
                    max_event_age=TRIGGER_EVENT_MAX_AGE,
                    retry_attempts=TRIGGER_EVENT_RETRY_ATTEMPTS,
                )
            ],
        )
