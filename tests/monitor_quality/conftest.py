"""Moto-backed fixtures for the quality monitor: captured predictions of a real model on the
breast cancer data, and ground-truth files that label them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pandas as pd
import pytest
from moto import mock_aws
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from functions.common.config import PipelineConfig
from tests.support import datasets
from tests.support.events import load_event
from tests.support.lambda_handlers import LambdaContextStub, lambda_context

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


@pytest.fixture(scope="session")
def served() -> ServedTraffic:
    frame = datasets.breast_cancer()
    features = [c for c in frame.columns if c != "target"]
    shuffled = frame.sample(frac=1.0, random_state=4).reset_index(drop=True)
    train, live = shuffled.iloc[:300], shuffled.iloc[300:400].reset_index(drop=True)
    # A deliberately weak model (two features), so live accuracy is visibly below 1.
    weak = ["mean_texture", "mean_smoothness"]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(train[weak], train["target"])
    return ServedTraffic(
        rows=live[features],
        truth=[str(v) for v in live["target"]],
        predictions=[str(v) for v in model.predict(live[weak])],
        probabilities=model.predict_proba(live[weak]).tolist(),
        classes=[str(c) for c in model.classes_],
    )


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


@pytest.fixture
def scenario(monkeypatch, tmp_path, served) -> QualityScenario:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "test",
        "POWERTOOLS_SERVICE_NAME": "monitor-quality",
        "LAMBDA_TASK_ROOT": str(tmp_path),
        "DATA_BUCKET": DATA_BUCKET,
        "ENDPOINT_NAME": ENDPOINT_NAME,
        "METRICS_NAMESPACE": METRICS_NAMESPACE,
    }.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "pipeline_config.json").write_text(pipeline_config(list(served.rows.columns)).to_json())
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=DATA_BUCKET)
        event = load_event("monitor_quality_ground_truth_created")
        yield QualityScenario(served, s3, boto3.client("cloudwatch", region_name=REGION), event)


@pytest.fixture
def context() -> LambdaContextStub:
    return lambda_context("monitor-quality", 1024, 3)
