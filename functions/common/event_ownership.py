"""Whether an event that reached a function belongs to this stack.

EventBridge rules deliver only the stack's own events, but a function can also be invoked
directly by anyone allowed `lambda:InvokeFunction`, and an event's account, region and
resources are whatever the invoker wrote. A function that acts (rolls back, retrains, starts
an execution, publishes a message) first checks that the event names this stack's account,
region and resources; anything else is ignored with a log line and a metric, and nothing is
done or said about it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

# arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]
_FUNCTION_ARN_MIN_PARTS = 7


class InvalidFunctionArnError(ValueError):
    """The Lambda context's invoked function ARN is not a function ARN."""


@dataclass(frozen=True)
class StackScope:
    """The partition, region and account the function, and so the stack, lives in."""

    partition: str
    region: str
    account: str

    @classmethod
    def of_function(cls, invoked_function_arn: str) -> StackScope:
        parts = invoked_function_arn.split(":")
        if len(parts) < _FUNCTION_ARN_MIN_PARTS or parts[0] != "arn" or parts[2] != "lambda" or parts[5] != "function":
            raise InvalidFunctionArnError(f"not a Lambda function ARN: {invoked_function_arn!r}")
        return cls(partition=parts[1], region=parts[3], account=parts[4])

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


def origin_mismatch(scope: StackScope, *, account: str, region: str) -> str | None:
    """Why an event from `account` and `region` is not this stack's, or None when it may be."""
    if account != scope.account:
        return f"the event names account {account!r}, not this stack's"
    if region != scope.region:
        return f"the event names region {region!r}, not this stack's {scope.region}"
    return None


def alarm_mismatch(
    scope: StackScope,
    *,
    account: str,
    region: str,
    resources: Sequence[str],
    alarm_name: str,
    stack_alarm_arns: Collection[str],
) -> str | None:
    """Why an alarm state change is not about one of this stack's alarms, or None when it is:
    its origin, and its one resource the ARN of a stack alarm with the name the detail gives."""
    mismatch = origin_mismatch(scope, account=account, region=region)
    if mismatch:
        return mismatch
    expected = scope.arn("cloudwatch", f"alarm:{alarm_name}")
    if list(resources) != [expected]:
        return "the event's resources are not the ARN of the alarm its detail names"
    if expected not in stack_alarm_arns:
        return f"alarm {alarm_name!r} is not one of this stack's alarms"
    return None


def object_mismatch(
    scope: StackScope,
    *,
    account: str,
    region: str,
    bucket: str,
    key: str,
    stack_bucket: str,
    prefixes: Sequence[str],
) -> str | None:
    """Why an S3 object event is not about this stack's bucket under one of `prefixes`."""
    mismatch = origin_mismatch(scope, account=account, region=region)
    if mismatch:
        return mismatch
    if bucket != stack_bucket:
        return f"bucket {bucket!r} is not this stack's data bucket"
    if not key.startswith(tuple(prefixes)):
        return f"the key is not under {', '.join(prefixes)}"
    return None


def model_package_mismatch(
    scope: StackScope, *, account: str, region: str, group: str, stack_group: str
) -> str | None:
    """Why a model package event is not about this stack's model package group."""
    mismatch = origin_mismatch(scope, account=account, region=region)
    if mismatch:
        return mismatch
    if group != stack_group:
        return f"model package group {group!r} is not this stack's"
    return None
