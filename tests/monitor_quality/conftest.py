"""Moto-backed fixtures for the quality monitor: captured predictions of a real model on the
breast cancer data, and ground-truth files that label them."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.support import datasets
from tests.support.events import load_event
from tests.support.lambda_handlers import LambdaContextStub, lambda_context
from tests.support.quality_scenario import (
    DATA_BUCKET,
    ENDPOINT_NAME,
    METRICS_NAMESPACE,
    REGION,
    QualityScenario,
    ServedTraffic,
    pipeline_config,
)


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
