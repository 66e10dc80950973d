"""What starts the training state machine, through EventBridge rules on the default bus:
an object created under incoming/ in the data bucket (S3 sends its events to EventBridge,
see DataStore), and a version of the pipeline's model package group approved in the Model
Registry. Every rule starts the machine with one role, dead-letter queue and retry policy."""

from __future__ import annotations

from aws_cdk import Duration, aws_events as events, aws_events_targets as targets, aws_iam as iam
from aws_cdk import aws_s3 as s3, aws_sqs as sqs, aws_stepfunctions as sfn
from constructs import Construct

from functions.common import s3_layout

TRIGGER_EVENT_MAX_AGE = Duration.hours(2)
TRIGGER_EVENT_RETRY_ATTEMPTS = 8
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
APPROVED = "Approved"


def object_created_pattern(bucket: s3.IBucket, prefix: str) -> events.EventPattern:
    """S3's EventBridge event for an object created under `prefix` of `bucket`."""
    return events.EventPattern(
        source=["aws.s3"],
        detail_type=["Object Created"],
        detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": [{"prefix": prefix}]}},
    )


def upload_event_pattern(data_bucket: s3.IBucket) -> events.EventPattern:
    return object_created_pattern(data_bucket, s3_layout.INCOMING_PREFIX)


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
        state_machine: sfn.IStateMachine,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self._state_machine = state_machine
        self._dead_letter_queue = dead_letter_queue
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description="Starts the training state machine for uploads and model approvals",
        )

    def add_rule(self, rule_id: str, *, description: str, event_pattern: events.EventPattern) -> events.Rule:
        return events.Rule(
            self,
            rule_id,
            description=description,
            event_pattern=event_pattern,
            targets=[
                targets.SfnStateMachine(
                    self._state_machine,
                    role=self.role,
                    dead_letter_queue=self._dead_letter_queue,
                    max_event_age=TRIGGER_EVENT_MAX_AGE,
                    retry_attempts=TRIGGER_EVENT_RETRY_ATTEMPTS,
                )
            ],
        )
