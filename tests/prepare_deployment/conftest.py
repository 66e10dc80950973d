"""Moto-backed fixtures for the Prepare deployment handler: a registry and an endpoint."""

from __future__ import annotations

import boto3
import pytest
from approval_scenario import ENDPOINT_NAME, MODEL_PACKAGE_GROUP, REGION, ApprovalScenario, LambdaContextStub, write_config
from moto import mock_aws


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "test",
        "POWERTOOLS_SERVICE_NAME": "prepare-deployment",
    }.items():
        monkeypatch.setenv(name, value)
    # Powertools reads its namespace when the handler module is imported, which may precede this fixture.
    import functions.prepare_deployment.handler as handler_module

    monkeypatch.setattr(handler_module.metrics, "namespace", "test")
    with mock_aws():
        yield


@pytest.fixture
def approvals(aws, monkeypatch, tmp_path) -> ApprovalScenario:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model_package_group(ModelPackageGroupName=MODEL_PACKAGE_GROUP)
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", MODEL_PACKAGE_GROUP)
    monkeypatch.setenv("ENDPOINT_NAME", ENDPOINT_NAME)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    write_config(tmp_path)
    return ApprovalScenario(sagemaker)


@pytest.fixture
def context() -> LambdaContextStub:
    return LambdaContextStub()
