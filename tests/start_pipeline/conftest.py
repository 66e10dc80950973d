"""Moto-backed fixtures for the Start pipeline handler: a STANDARD state machine to start."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.support.lambda_handlers import LambdaContextStub, handler_under_moto, lambda_context

REGION = "us-east-1"
STATE_MACHINE_NAME = "mlops-training-pipeline"
# moto records executions of this definition without running them, so they stay RUNNING.
DEFINITION = {"StartAt": "Train", "States": {"Train": {"Type": "Pass", "End": True}}}


@pytest.fixture
def aws(monkeypatch):
    import functions.start_pipeline.handler as handler_module

    with handler_under_moto(monkeypatch, handler_module, "start-pipeline", REGION):
        yield


@pytest.fixture
def sfn(aws) -> Any:
    return boto3.client("stepfunctions", region_name=REGION)


@pytest.fixture
def state_machine_arn(sfn, monkeypatch) -> str:
    arn = sfn.create_state_machine(
        name=STATE_MACHINE_NAME,
        definition=json.dumps(DEFINITION),
        roleArn="arn:aws:iam::123456789012:role/mlops-state-machine",
        type="STANDARD",
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("DATA_BUCKET", "data-bucket")
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", "mlops-models")
    return arn


@pytest.fixture
def context() -> LambdaContextStub:
    return lambda_context("start-pipeline", 256, 4)
