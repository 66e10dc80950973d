"""Moto-backed fixtures for the Evaluate model handler: buckets, a training job and its output."""

from __future__ import annotations

import boto3
import pytest

from tests.support import datasets
from tests.support.evaluation_scenario import (
    ARTIFACTS_BUCKET,
    DATA_BUCKET,
    MODEL_PACKAGE_GROUP,
    REGION,
    BreastCancer,
    EvaluationScenario,
    pipeline_config,
)
from tests.support.events import load_event
from tests.support.lambda_handlers import LambdaContextStub, handler_under_moto, lambda_context


@pytest.fixture(scope="session")
def breast_cancer() -> BreastCancer:
    frame = datasets.breast_cancer()
    features = [c for c in frame.columns if c != "target"]
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    half = len(shuffled) // 2
    return BreastCancer(shuffled.iloc[:half].reset_index(drop=True), shuffled.iloc[half:].reset_index(drop=True), features)


@pytest.fixture
def aws(monkeypatch):
    import functions.evaluate_model.handler as handler_module

    with handler_under_moto(monkeypatch, handler_module, "evaluate-model", REGION):
        yield


@pytest.fixture
def scenario(aws, monkeypatch, tmp_path, breast_cancer) -> EvaluationScenario:
    s3 = boto3.client("s3", region_name=REGION)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    for bucket in (DATA_BUCKET, ARTIFACTS_BUCKET):
        s3.create_bucket(Bucket=bucket)
    event = load_event("evaluate_model")
    monkeypatch.setenv("DATA_BUCKET", DATA_BUCKET)
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", MODEL_PACKAGE_GROUP)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    built = EvaluationScenario(breast_cancer, event, tmp_path, s3, sagemaker, monkeypatch)
    built.write_config(pipeline_config(breast_cancer.features))
    built.upload_test_split()
    built.start_training_job()
    return built


@pytest.fixture
def context() -> LambdaContextStub:
    return lambda_context("evaluate-model", 1024, 1)


@pytest.fixture(scope="session")
def strong_model(breast_cancer):
    return breast_cancer.fit(breast_cancer.features, regularization=1.0)


@pytest.fixture(scope="session")
def weak_model(breast_cancer):
    # Two weakly informative features: above the 0.8 AUC floor, well below the strong model.
    return breast_cancer.fit(["mean_texture", "mean_smoothness"], regularization=1.0)
