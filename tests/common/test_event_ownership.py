"""Which events belong to the stack, without AWS."""

from __future__ import annotations

import pytest

from functions.common.event_ownership import (
    InvalidFunctionArnError,
    StackScope,
    alarm_mismatch,
    model_package_mismatch,
    object_mismatch,
)

SCOPE = StackScope.of_function("arn:aws:lambda:us-east-1:123456789012:function:mlops-responder:live")
ERRORS_ALARM_ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:mlops-errors"


def test_scope_is_read_from_the_function_arn():
    assert SCOPE == StackScope(partition="aws", region="us-east-1", account="123456789012")
    assert StackScope.of_function("arn:aws-cn:lambda:cn-north-1:210987654321:function:f").partition == "aws-cn"


@pytest.mark.parametrize("arn", ["", "arn:aws:s3:::bucket", "arn:aws:lambda:us-east-1:123456789012:layer:x:1"])
def test_a_context_without_a_function_arn_is_an_error(arn):
    with pytest.raises(InvalidFunctionArnError):
        StackScope.of_function(arn)


def alarm(**overrides):
    facts = {
        "account": "123456789012",
        "region": "us-east-1",
        "resources": [ERRORS_ALARM_ARN],
        "alarm_name": "mlops-errors",
        "stack_alarm_arns": {ERRORS_ALARM_ARN},
    }
    return alarm_mismatch(SCOPE, **{**facts, **overrides})


def test_the_stacks_own_alarm_belongs():
    assert alarm() is None


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"account": "999999999999"}, "account"),
        ({"region": "ap-southeast-2"}, "region"),
        ({"resources": []}, "resources"),
        ({"resources": [ERRORS_ALARM_ARN, ERRORS_ALARM_ARN]}, "resources"),
        ({"resources": ["arn:aws:cloudwatch:us-east-1:999999999999:alarm:mlops-errors"]}, "resources"),
        ({"alarm_name": "mlops-latency"}, "resources"),
        (
            {
                "alarm_name": "other-errors",
                "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:other-errors"],
            },
            "not one of this stack's alarms",
        ),
    ],
)
def test_a_forged_or_foreign_alarm_does_not_belong(overrides, reason):
    assert reason in alarm(**overrides)


def test_an_upload_to_the_stacks_bucket_under_its_prefix_belongs():
    facts = {"account": "123456789012", "region": "us-east-1", "stack_bucket": "data", "prefixes": ["incoming/"]}

    assert object_mismatch(SCOPE, bucket="data", key="incoming/a.csv", **facts) is None
    assert "bucket" in object_mismatch(SCOPE, bucket="other", key="incoming/a.csv", **facts)
    assert "not under incoming/" in object_mismatch(SCOPE, bucket="data", key="curated/a.csv", **facts)
    assert "account" in object_mismatch(SCOPE, bucket="data", key="incoming/a.csv", **{**facts, "account": "1"})


def test_an_approval_in_the_stacks_model_package_group_belongs():
    facts = {"account": "123456789012", "region": "us-east-1", "stack_group": "mlops-models"}

    assert model_package_mismatch(SCOPE, group="mlops-models", **facts) is None
    assert "group" in model_package_mismatch(SCOPE, group="mlops-models-2", **facts)
    assert "region" in model_package_mismatch(SCOPE, group="mlops-models", **{**facts, "region": "eu-west-1"})
