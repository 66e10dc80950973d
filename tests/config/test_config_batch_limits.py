"""The batch section against Batch Transform's limits, checked when the config loads
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from functions.common.config import BatchConfig, DeploymentConfig


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"max_payload_mb": 101}, "max_payload_mb"),
        ({"max_payload_mb": 0}, "max_payload_mb"),
        ({"max_payload_mb": 30, "max_concurrent_transforms": 4}, "max_concurrent_transforms"),
        ({"invocation_timeout_seconds": 3601}, "invocation_timeout_seconds"),
        ({"instance_type": "m5.large"}, "instance_type"),
        ({"drift": "warn"}, "drift"),
    ],
)
def test_a_batch_section_outside_the_limits_is_refused_naming_the_field(fields, named):
    with pytest.raises(ValidationError, match=named):
        BatchConfig(**fields)


def test_the_limits_themselves_are_accepted():
    assert BatchConfig(max_payload_mb=100).max_payload_mb == 100
    assert BatchConfig(max_payload_mb=25, max_concurrent_transforms=4).max_concurrent_transforms == 4
    assert BatchConfig().drift == "report"


def test_a_deployment_mode_is_realtime_or_batch_only():
    assert DeploymentConfig().mode == "realtime"
    assert DeploymentConfig(mode="batch_only").mode == "batch_only"
    with pytest.raises(ValidationError, match="mode"):
        DeploymentConfig(mode="offline")
