"""The trigger: an object created under incoming/ in the data bucket starts the training
state machine, through EventBridge (S3 sends its events there, see DataStore)."""

from __future__ import annotations

from aws_cdk import Duration, aws_events as events, aws_events_targets as targets, aws_iam as iam
from aws_cdk import aws_s3 as s3, aws_sqs as sqs, aws_stepfunctions as sfn
from constructs import Construct

from functions.common import s3_layout

UPLOAD_EVENT_MAX_AGE = Duration.hours(2)
UPLOAD_EVENT_RETRY_ATTEMPTS = 8


class UploadTrigger(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data_bucket: s3.IBucket,
        state_machine: sfn.IStateMachine,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description="Starts the training state machine for uploads",
        )
        self.rule = events.Rule(
            self,
            "Rule",
            description="Starts the training state machine when data lands under incoming/",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [data_bucket.bucket_name]},
                    "object": {"key": [{"prefix": s3_layout.INCOMING_PREFIX}]},
                },
            ),
            targets=[
                targets.SfnStateMachine(
                    state_machine,
                    role=self.role,
                    dead_letter_queue=dead_letter_queue,
                    max_event_age=UPLOAD_EVENT_MAX_AGE,
                    retry_attempts=UPLOAD_EVENT_RETRY_ATTEMPTS,
                )
            ],
        )
