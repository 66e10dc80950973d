"""Moto-backed fixtures for the Prepare deployment handler: a registry and an endpoint."""

from __future__ import annotations

import boto3
import pytest
from approval_scenario import ENDPOINT_NAME, MODEL_PACKAGE_GROUP, REGION, ApprovalScenario, write_config
from tests.support.lambda_handlers import LambdaContextStub, handler_under_moto, lambda_context


@pytest.fixture
def aws(monkeypatch):
    import functions.prepare_deployment.handler as handler_module

    with handler_under_moto(monkeypatch, handler_module, "prepare-deployment", REGION):
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
    return lambda_context("prepare-deployment", 256, 3)
