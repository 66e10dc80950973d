"""Fixtures for the "Validate data" tests: real datasets, inferred configs, moto AWS."""

from __future__ import annotations

from pathlib import Path

import boto3
import pandas as pd
import pytest
from moto import mock_aws
from palmerpenguins import load_penguins

from functions.common.config import PipelineConfig
from mlops.schema_inference import infer_config
from tests.support import datasets
from tests.support.lambda_handlers import LambdaContextStub
from validate_data_support import DATA_BUCKET, ENDPOINT_NAME, MODEL_PACKAGE_GROUP, Aws

@pytest.fixture(scope="session")
def breast_cancer() -> pd.DataFrame:
    return datasets.breast_cancer()


@pytest.fixture(scope="session")
def penguins() -> pd.DataFrame:
    return load_penguins()


@pytest.fixture(scope="session")
def breast_cancer_config(breast_cancer: pd.DataFrame) -> PipelineConfig:
    return infer_config(breast_cancer, "target")


@pytest.fixture(scope="session")
def penguins_config(penguins: pd.DataFrame) -> PipelineConfig:
    return infer_config(penguins, "species")


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, breast_cancer_config: PipelineConfig):
    yield from _aws_environment(tmp_path, monkeypatch, breast_cancer_config)


@pytest.fixture(scope="module")
def shared_aws(tmp_path_factory: pytest.TempPathFactory, breast_cancer_config: PipelineConfig):
    """One moto account for a module whose tests use distinct keys and execution names."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield from _aws_environment(tmp_path_factory.mktemp("task_root"), monkeypatch, breast_cancer_config)


def _aws_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, breast_cancer_config: PipelineConfig):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "test",
        "POWERTOOLS_SERVICE_NAME": "validate-data",
        "DATA_BUCKET": DATA_BUCKET,
        "MODEL_PACKAGE_GROUP": MODEL_PACKAGE_GROUP,
        "ENDPOINT_NAME": ENDPOINT_NAME,
        "LAMBDA_TASK_ROOT": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    # Powertools reads its namespace when the handler module is imported, which may precede this fixture.
    import functions.validate_data.handler as handler_module

    monkeypatch.setattr(handler_module.metrics, "namespace", "test")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=DATA_BUCKET)
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_model_package_group(ModelPackageGroupName=MODEL_PACKAGE_GROUP)
        environment = Aws(s3, sagemaker, tmp_path, monkeypatch)
        environment.use_config(breast_cancer_config)
        yield environment


@pytest.fixture
def lambda_context() -> LambdaContextStub:
    return LambdaContextStub(
        function_name="mlops-validate-data",
        memory_limit_in_mb=3008,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:mlops-validate-data",
        aws_request_id="5b1c2d3e-0000-4000-8000-000000000001",
    )
