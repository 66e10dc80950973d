"""What AWS services do on the stack's behalf, checked against the template's resource policies:
a CloudWatch alarm action publishing to SNS, EventBridge invoking a target or sending a failed
event to its dead-letter queue. Each is made by the service principal, carries the source's ARN
and account (aws:SourceArn, aws:SourceAccount), and needs the key policy's consent when the
topic or queue is encrypted with the customer managed key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlops.local import moto_access
from mlops.local.iam import enforcement
from mlops.local.iam.keys import key_arn, queue_key, topic_key
from mlops.local.iam.operations import Authorization

CLOUDWATCH = "cloudwatch.amazonaws.com"
EVENTBRIDGE = "events.amazonaws.com"


@dataclass
class ServiceAction:
    """One thing a service did (or was refused) for the stack, for tests and the run's record."""

    principal: str
    action: str
    source_arn: str
    target_arn: str
    error: str | None = None


def _source_context(source_arn: str) -> tuple[tuple[str, str], ...]:
    return (("aws:SourceArn", source_arn), ("aws:SourceAccount", moto_access.LOCAL_ACCOUNT_ID))


def _service_key_use(action: str, key_arn: str, source_arn: str) -> Authorization:
    return Authorization(action, key_arn, _source_context(source_arn), resource_policy=key_arn)


def publish_alarm_action(alarm: Any, topic_arn: str, message: dict[str, Any]) -> ServiceAction:
    """CloudWatch publishes the alarm's state change to an SNS topic, as cloudwatch.amazonaws.com."""
    record = ServiceAction(CLOUDWATCH, "sns:Publish", alarm.alarm_arn, topic_arn)
    required = [Authorization("sns:Publish", topic_arn, _source_context(alarm.alarm_arn), resource_policy=topic_arn)]
    key = topic_key(topic_arn)
    if key:
        required += [_service_key_use(action, key, alarm.alarm_arn) for action in ("kms:GenerateDataKey", "kms:Decrypt")]
    try:
        enforcement.authorize(CLOUDWATCH, required)
    except enforcement.AccessDeniedError as error:
        record.error = f"AuthorizationError: {error}"
        return record
    from moto.sns.models import sns_backends

    sns_backends[moto_access.LOCAL_ACCOUNT_ID][moto_access.LOCAL_REGION].publish(json.dumps(message), arn=topic_arn)
    return record


def authorize_event_delivery(rule_arn: str, target: dict[str, Any]) -> None:
    """EventBridge invokes a Lambda target as events.amazonaws.com (the function's permissions
    decide), and starts a state machine as the target's role."""
    arn = target["Arn"]
    if ":lambda:" in arn:
        function = ":".join(arn.split(":")[:7])
        enforcement.authorize(
            EVENTBRIDGE,
            [Authorization("lambda:InvokeFunction", arn, _source_context(rule_arn), resource_policy=function)],
        )
    elif ":states:" in arn:
        enforcement.authorize(target.get("RoleArn") or EVENTBRIDGE, [Authorization("states:StartExecution", arn)])


def send_to_dead_letter_queue(rule_arn: str, queue_arn: str, event: dict[str, Any], reason: str) -> ServiceAction:
    """EventBridge sends an event it could not deliver to the target's dead-letter queue."""
    record = ServiceAction(EVENTBRIDGE, "sqs:SendMessage", rule_arn, queue_arn)
    required = [Authorization("sqs:SendMessage", queue_arn, _source_context(rule_arn), resource_policy=queue_arn)]
    key = queue_key(queue_arn)
    if key:
        required += [_service_key_use(action, key, rule_arn) for action in ("kms:GenerateDataKey", "kms:Decrypt")]
    try:
        enforcement.authorize(EVENTBRIDGE, required)
    except enforcement.AccessDeniedError as error:
        record.error = f"AccessDenied: {error}"
        return record
    from moto.sqs.models import sqs_backends

    sqs_backends[moto_access.LOCAL_ACCOUNT_ID][moto_access.LOCAL_REGION].send_message(
        queue_arn.rsplit(":", 1)[-1],
        json.dumps(event),
        message_attributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": "AccessDeniedException"},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": reason[:256]},
            "RULE_ARN": {"DataType": "String", "StringValue": rule_arn},
        },
    )
    return record


def use_key_for_log_group(log_group_name: str, key_id: str) -> ServiceAction:
    """CloudWatch Logs encrypts a log group's data with the key as logs.<region>.amazonaws.com,
    in an encryption context that names the log group; the key policy must allow that
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html). AWS
    refuses the log group's creation otherwise."""
    principal = f"logs.{moto_access.LOCAL_REGION}.amazonaws.com"
    log_group_arn = f"arn:aws:logs:{moto_access.LOCAL_REGION}:{moto_access.LOCAL_ACCOUNT_ID}:log-group:{log_group_name}"
    key = key_arn(key_id)
    record = ServiceAction(principal, "kms:GenerateDataKey", log_group_arn, key or key_id)
    context = (("kms:EncryptionContext:aws:logs:arn", log_group_arn),)
    required = [Authorization(action, key or key_id, context, resource_policy=key) for action in LOG_GROUP_KEY_ACTIONS]
    try:
        enforcement.authorize(principal, required)
    except enforcement.AccessDeniedError:
        record.error = (
            f"AccessDeniedException: The specified KMS key does not exist or is not allowed to be used with Arn "
            f"'{log_group_arn}'"
        )
    return record


# What CloudWatch Logs does with the key for an encrypted log group (the documented key policy
# statement allows kms:Encrypt*, kms:Decrypt*, kms:ReEncrypt*, kms:GenerateDataKey*, kms:Describe*,
# all in an encryption context that names the log group).
LOG_GROUP_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")
