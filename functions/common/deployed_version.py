"""The DeployedModelVersion metric: the registry version that serves on the endpoint, for the
pipeline dashboard. Published by whatever learns it: the scheduled drift monitor on every run,
and the alarm responder after a rollback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

DEPLOYED_MODEL_VERSION_METRIC = "DeployedModelVersion"
ENDPOINT_DIMENSION = "EndpointName"


def parse_model_version(text: str | None) -> int | None:
    """A model's MODEL_VERSION environment value as a registry version, or None if it is not one."""
    if text is None or not text.strip().isdigit():
        return None
    return int(text)


def publish_deployed_version(
    cloudwatch: Any, namespace: str, endpoint_name: str, version: int, timestamp: datetime
) -> None:
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": DEPLOYED_MODEL_VERSION_METRIC,
                "Dimensions": [{"Name": ENDPOINT_DIMENSION, "Value": endpoint_name}],
                "Timestamp": timestamp,
                "Value": float(version),
                "Unit": "None",
            }
        ],
    )
