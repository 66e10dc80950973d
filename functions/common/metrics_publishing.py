"""Custom CloudWatch metrics of the drift and quality monitors, published with PutMetricData.

They go to CloudWatch directly rather than through the embedded metric format so that alarms
can use them at once and they carry exactly the dimensions the alarms name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# PutMetricData accepts up to 1000 values per call; fewer keeps each request well under 1 MB.
MAX_METRIC_DATA_PER_REQUEST = 500

ENDPOINT_DIMENSION = "EndpointName"
FEATURE_DIMENSION = "Feature"
METRIC_NAME_DIMENSION = "MetricName"


@dataclass(frozen=True)
class MetricValue:
    name: str
    value: float
    dimensions: tuple[tuple[str, str], ...]
    unit: str = "None"

    def datum(self, timestamp: datetime) -> dict[str, Any]:
        return {
            "MetricName": self.name,
            "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions],
            "Timestamp": timestamp,
            "Value": float(self.value),
            "Unit": self.unit,
        }


def publish_metrics(cloudwatch: Any, namespace: str, values: list[MetricValue], timestamp: datetime) -> int:
    """Publishes the finite values; returns how many were sent."""
    data = [value.datum(timestamp) for value in values if math.isfinite(value.value)]
    for start in range(0, len(data), MAX_METRIC_DATA_PER_REQUEST):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + MAX_METRIC_DATA_PER_REQUEST])
    return len(data)
