"""Moto-backed fixtures for the Register version handler."""

from __future__ import annotations

import boto3
import pytest

from tests.support.lambda_handlers import LambdaContextStub, handler_under_moto, lambda_context
from tests.support.registry_scenario import (
    CODE_VERSION,
    INFERENCE_IMAGE_URI,
    MODEL_PACKAGE_GROUP,
    REGION,
    RegistryScenario,
    write_config,
)


@pytest.fixture
def aws(monkeypatch):
    import functions.register_model.handler as handler_module

    with handler_under_moto(monkeypatch, handler_module, "register-model", REGION):
        yield


@pytest.fixture
def registry(aws, monkeypatch, tmp_path) -> RegistryScenario:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model_package_group(ModelPackageGroupName=MODEL_PACKAGE_GROUP)
    monkeypatch.setenv("DATA_BUCKET", "data-bucket")
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", MODEL_PACKAGE_GROUP)
    monkeypatch.setenv("INFERENCE_IMAGE_URI", INFERENCE_IMAGE_URI)
    monkeypatch.setenv("CODE_VERSION", CODE_VERSION)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    write_config(tmp_path)
    scenario = RegistryScenario(sagemaker, tmp_path)
    scenario.start_training_job(scenario.event()["training_job_name"])
    return scenario


@pytest.fixture
def context() -> LambdaContextStub:
    return lambda_context("register-model", 256, 2)
