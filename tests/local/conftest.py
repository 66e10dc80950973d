from __future__ import annotations

import boto3
import pandas as pd
import pytest
from moto import mock_aws

from functions.common.config import ColumnSchema, DatasetSchema, GateConfig, PipelineConfig
from tests.support import datasets


@pytest.fixture
def aws_environment(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def moto_s3(aws_environment):
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


@pytest.fixture(scope="session")
def breast_cancer() -> pd.DataFrame:
    return datasets.breast_cancer()


@pytest.fixture(scope="session")
def breast_cancer_config(breast_cancer) -> PipelineConfig:
    columns = [
        ColumnSchema(name=c, type="category", categories=["0", "1"]) if c == "target" else ColumnSchema(name=c, type="float")
        for c in breast_cancer.columns
    ]
    return PipelineConfig(
        dataset=DatasetSchema(target="target", problem_type="binary", columns=columns),
        gates=GateConfig(primary_metric="roc_auc", thresholds={"roc_auc": 0.8}),
    )
