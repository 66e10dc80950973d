"""Where people and failed deliveries end up: the pipeline's SNS topic, the dead-letter queue
for events EventBridge or Lambda could not deliver, and an alarm that tells a person as soon as
anything lands in that queue (an upload or an alarm whose delivery failed is otherwise silent)."""

from __future__ import annotations

from aws_cdk import (
    Duration,
    Stack,
    aws_cloudwatch as cloudwatch,
    aws_iam as iam,
    aws_kms as kms,
    aws_sns as sns,
    aws_sqs as sqs,
)
from constructs import Construct

from infra.constructs.monitoring import DEAD_LETTERS_KIND, alarm_arn, alarm_name, notify_on_state_changes
from infra.constructs.nag import acknowledge

DEAD_LETTER_RETENTION = Duration.days(14)
DEAD_LETTERS_THRESHOLD_MESSAGES = 1
DEAD_LETTERS_PERIOD = Duration.minutes(5)


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
        self._allow_alarm_actions(project)
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
        self.dead_letters_alarm_name = alarm_name(project, DEAD_LETTERS_KIND)
        self.dead_letters_alarm = cloudwatch.Alarm(
            self,
            "DeadLettersAlarm",
            alarm_name=self.dead_letters_alarm_name,
            alarm_description=(
                "An event or asynchronous invocation could not be delivered and waits in the "
                "dead-letter queue; read it, fix the cause and send it again"
            ),
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=DEAD_LETTERS_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=DEAD_LETTERS_THRESHOLD_MESSAGES,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        notify_on_state_changes(self.dead_letters_alarm, self.topic)

    def _allow_alarm_actions(self, project: str) -> None:
        """The topic's policy replaces SNS's default one (enforce_ssl gives it the TLS deny), so
        CloudWatch may publish the project's alarms only if it says so
        (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html)."""
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowProjectAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                    "ArnLike": {"aws:SourceArn": alarm_arn(self, alarm_name(project, "*"))},
                },
            )
        )
