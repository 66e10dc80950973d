"""Captured predictions of a real model on the breast cancer data, in moto, and ground-truth
files that label them, for the quality monitor."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from functions.common.config import PipelineConfig

REGION = "us-east-1"
DATA_BUCKET = "data-bucket"
ENDPOINT_NAME = "mlops-endpoint"
METRICS_NAMESPACE = "mlops/monitoring"


@dataclass(frozen=True)
class ServedTraffic:
    """Live rows the endpoint answered, with what it answered and the true labels."""

    rows: pd.DataFrame
    truth: list[str]
    predictions: list[str]
    probabilities: list[list[float]]
    classes: list[str]


def pipeline_config(features: list[str]) -> PipelineConfig:
    columns: list[dict[str, Any]] = [{"name": name, "type": "float"} for name in features]
    columns.append({"name": "target", "type": "category", "categories": ["0", "1"]})
    return PipelineConfig.model_validate(
        {"dataset": {"target": "target", "problem_type": "binary", "columns": columns}, "gates": {"primary_metric": "roc_auc"}}
    )


def capture_record(served: ServedTraffic, index: int, inference_id: str) -> str:
    request = {"instances": [served.rows.iloc[index].to_dict()]}
    response = {"predictions": [served.predictions[index]], "probabilities": [served.probabilities[index]],
                "classes": served.classes}
    return json.dumps({
        "captureData": {
            "endpointInput": {"observedContentType": "application/json", "mode": "INPUT", "data": json.dumps(request),
                              "encoding": "JSON"},
            "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT", "data": json.dumps(response),
                               "encoding": "JSON"},
        },
        "eventMetadata": {"eventId": f"event-{index}", "inferenceTime": "2026-11-22T15:00:00Z", "inferenceId": inference_id},
        "eventVersion": "0",
    })


@dataclass
class QualityScenario:
    served: ServedTraffic
    s3: Any
    cloudwatch: Any
    event: dict[str, Any]

    def capture(self, count: int, hours_ago: int = 1) -> None:
        """The first `count` live rows, one request each, with inference ids req-<i>."""
        hour = datetime.now(UTC) - timedelta(hours=hours_ago)
        key = f"capture/{ENDPOINT_NAME}/AllTraffic/{hour:%Y/%m/%d/%H}/capture-{hours_ago}.jsonl"
        body = "\n".join(capture_record(self.served, i, f"req-{i}") for i in range(count)) + "\n"
        self.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body.encode())

    def upload_ground_truth(self, body: str, key: str = "ground-truth/2026-11-23/labels.csv") -> dict[str, Any]:
        self.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body.encode())
        event = json.loads(json.dumps(self.event))
        event["detail"]["object"]["key"] = key
        return event

    def keys(self, prefix: str) -> list[str]:
        return sorted(e["Key"] for e in self.s3.list_objects_v2(Bucket=DATA_BUCKET, Prefix=prefix).get("Contents", []))

    def metric_names(self) -> set[str]:
        return {m["MetricName"] for m in self.cloudwatch.list_metrics(Namespace=METRICS_NAMESPACE)["Metrics"]}

    def metric_values(self, name: str, **dimensions: str) -> list[float]:
        now = datetime.now(UTC)
        response = self.cloudwatch.get_metric_data(
            MetricDataQueries=[{
                "Id": "m",
                "MetricStat": {
                    "Metric": {"Namespace": METRICS_NAMESPACE, "MetricName": name,
                               "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]},
                    "Period": 3600,
                    "Stat": "Maximum",
                },
            }],
            # moto walks the window period by period, so it is kept to the test's own hour.
            StartTime=now - timedelta(minutes=30),
            EndTime=now + timedelta(minutes=30),
        )
        return response["MetricDataResults"][0]["Values"]
