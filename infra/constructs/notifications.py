"""Where people and failed deliveries end up: the pipeline's SNS topic and the dead-letter
queue for events EventBridge or Lambda could not deliver."""

from __future__ import annotations

from aws_cdk import Duration, aws_kms as kms, aws_sns as sns, aws_sqs as sqs
from constructs import Construct

from infra.constructs.nag import acknowledge

DEAD_LETTER_RETENTION = Duration.days(14)


class Notifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, project: str, encryption_key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"{project} pipeline",
            master_key=encryption_key,
            enforce_ssl=True,
        )
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=encryption_key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter queue; it has no dead-letter queue of its own.",
        )
        acknowledge(
            self.dead_letter_queue,
            "Serverless-SQSRedrivePolicy",
            "This queue is the dead-letter queue; it has no redrive target of its own.",
        )
