"""Moto-backed fixtures for the drift monitor: the breast cancer data, the training profile
validation's drift code builds from it, and the scenario that deploys an endpoint and writes
capture objects (tests/support/drift_scenario.py)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

from functions.common.drift_profile import build_profile
from tests.support import datasets
from tests.support.drift_scenario import (
    DATA_BUCKET,
    ENDPOINT_NAME,
    METRICS_NAMESPACE,
    PROFILE_KEY,
    REGION,
    BreastCancer,
    DriftScenario,
    pipeline_config,
)
from tests.support.events import load_event
from tests.support.lambda_handlers import LambdaContextStub, lambda_context


@pytest.fixture(scope="session")
def breast_cancer() -> BreastCancer:
    frame = datasets.breast_cancer()
    return BreastCancer(frame, [c for c in frame.columns if c != "target"])


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "test",
        "POWERTOOLS_SERVICE_NAME": "monitor-drift",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture(scope="session")
def baseline_profile(breast_cancer) -> dict[str, Any]:
    """The profile validation writes for the training data: built by drift_profile.py from a typed sample."""
    config = pipeline_config(breast_cancer.features)
    sample = breast_cancer.frame[breast_cancer.features].astype(float)
    sample["target"] = np.array([str(value) for value in breast_cancer.frame["target"]], dtype=object)
    return build_profile(sample, config.dataset, config.drift.bins, len(sample))


@pytest.fixture
def scenario(aws, monkeypatch, tmp_path, breast_cancer, baseline_profile) -> DriftScenario:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=DATA_BUCKET)
    s3.put_object(Bucket=DATA_BUCKET, Key=PROFILE_KEY, Body=json.dumps(baseline_profile).encode())
    config = pipeline_config(breast_cancer.features)
    (tmp_path / "pipeline_config.json").write_text(config.to_json())
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    monkeypatch.setenv("DATA_BUCKET", DATA_BUCKET)
    monkeypatch.setenv("ENDPOINT_NAME", ENDPOINT_NAME)
    monkeypatch.setenv("METRICS_NAMESPACE", METRICS_NAMESPACE)
    return DriftScenario(
        breast_cancer,
        config,
        tmp_path,
        s3,
        boto3.client("sagemaker", region_name=REGION),
        boto3.client("cloudwatch", region_name=REGION),
    )


@pytest.fixture
def scheduled_event() -> dict[str, Any]:
    return load_event("monitor_drift_scheduled_event")


@pytest.fixture
def context() -> LambdaContextStub:
    return lambda_context("monitor-drift", 1024, 2)
