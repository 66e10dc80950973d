"""SageMaker's limits are checked when the config loads, with a message that names the field
and the limit, so `mlops init`, `cdk synth` and the local run refuse what SageMaker would."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from functions.common.config import (
    MAX_REALTIME_PAYLOAD_BYTES,
    ConfigError,
    DeploymentConfig,
    XGBOOST_HYPERPARAMETER_NAMES,
    PipelineConfig,
    load_config,
)
from mlops.cli import main
from mlops.local.cloud import MOTO_CONFIG
from mlops.local.endpoints import Invocation
from mlops.local.standins import StandIns

REPOSITORY_CONFIG = Path(__file__).resolve().parents[2] / "pipeline.json"


def _config_with(tmp_path: Path, **deployment: object) -> Path:
    document = json.loads(REPOSITORY_CONFIG.read_text())
    document["deployment"].update(deployment)
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("deployment", "field", "limit"),
    [
        ({"strategy": "canary", "initial_instance_count": 1, "canary_percent": 10}, "deployment.canary_percent", "at most 50 % of the fleet"),
        ({"strategy": "canary", "initial_instance_count": 3, "canary_percent": 50}, "deployment.canary_percent", "at most 50 % of the fleet"),
        ({"strategy": "linear", "initial_instance_count": 1, "linear_step_percent": 25}, "deployment.linear_step_percent", "at most 50 % of the fleet"),
        ({"strategy": "linear", "initial_instance_count": 4, "linear_step_percent": 5}, "linear_step_percent", "greater than or equal to 10"),
        ({"strategy": "linear", "initial_instance_count": 4, "linear_step_percent": 60}, "linear_step_percent", "less than or equal to 50"),
        ({"wait_interval_seconds": 3601}, "wait_interval_seconds", "less than or equal to 3600"),
        ({"termination_wait_seconds": 3601}, "termination_wait_seconds", "less than or equal to 3600"),
        ({"maximum_execution_timeout_seconds": 599}, "maximum_execution_timeout_seconds", "greater than or equal to 600"),
        (
            {"maximum_execution_timeout_seconds": 900, "wait_interval_seconds": 300, "termination_wait_seconds": 600},
            "deployment.maximum_execution_timeout_seconds",
            "more than the deployment's waits (900 s",
        ),
        ({"endpoint_name": "my_endpoint"}, "endpoint_name", "should match pattern"),
        ({"endpoint_name": "e" * 64}, "endpoint_name", "at most 63 characters"),
        ({"instance_type": "m5.large"}, "instance_type", "should match pattern"),
    ],
)
def test_a_config_outside_sagemaker_limits_is_refused_naming_the_field_and_the_limit(tmp_path, deployment, field, limit):
    with pytest.raises(ConfigError) as refused:
        load_config(_config_with(tmp_path, **deployment))

    assert field in str(refused.value)
    assert limit in str(refused.value)


@pytest.mark.parametrize(
    "deployment",
    [
        {"strategy": "canary", "initial_instance_count": 2, "canary_percent": 50},
        {"strategy": "canary", "initial_instance_count": 10, "canary_percent": 10},
        {"strategy": "linear", "initial_instance_count": 2, "linear_step_percent": 50},
        {"strategy": "all_at_once", "initial_instance_count": 1},
        {"strategy": "canary", "initial_instance_count": 1, "serverless": True},
    ],
)
def test_a_config_within_the_limits_loads(tmp_path, deployment):
    assert load_config(_config_with(tmp_path, **deployment)).deployment.initial_instance_count >= 1


def test_the_default_deployment_is_within_the_guardrail_limits():
    assert DeploymentConfig().strategy == "all_at_once"
    assert load_config(REPOSITORY_CONFIG).deployment.strategy == "all_at_once"


def test_mlops_init_writes_a_config_that_passes_the_limits(tmp_path, capsys):
    data = tmp_path / "data.csv"
    rows = ["x,y,label"] + [f"{i},{i * 2 % 7},{i % 2}" for i in range(120)]
    data.write_text("\n".join(rows) + "\n")
    config = tmp_path / "pipeline.json"

    assert main(["init", "--data", str(data), "--target", "label", "--config", str(config)]) == 0
    loaded = PipelineConfig.model_validate(json.loads(config.read_text()))
    assert loaded.deployment.strategy == "all_at_once"




@pytest.fixture
def endpoint_standins(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws(config=MOTO_CONFIG):
        runners = {name: mock.Mock() for name in ("lambdas", "training", "endpoints", "processing")}
        runners["endpoints"].invoke.return_value = Invocation(b'{"predictions": [1]}', "application/json", "blue", "1")
        with StandIns(**runners).installed() as installed:
            yield installed


def test_a_request_above_the_real_time_payload_limit_is_refused_as_sagemaker_refuses_it(endpoint_standins):
    # Given a request body one byte over SageMaker's 6 MB real-time limit
    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1")
    body = b"1" * (MAX_REALTIME_PAYLOAD_BYTES + 1)

    # When it is sent to the endpoint
    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint(EndpointName="mlops-endpoint", Body=body, ContentType="text/csv")

    # Then it is a 400 ValidationError naming the size and the limit, and no model sees it
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationError"
    assert f"{MAX_REALTIME_PAYLOAD_BYTES + 1} bytes" in error["Error"]["Message"]
    assert f"{MAX_REALTIME_PAYLOAD_BYTES} bytes (6 MB)" in error["Error"]["Message"]
    endpoint_standins.endpoints.invoke.assert_not_called()


def test_a_request_at_the_real_time_payload_limit_reaches_the_model(endpoint_standins):
    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1")
    body = b"1" * MAX_REALTIME_PAYLOAD_BYTES

    answer = runtime.invoke_endpoint(EndpointName="mlops-endpoint", Body=body, ContentType="text/csv")

    assert answer["Body"].read() == b'{"predictions": [1]}'
    (endpoint_name, received, content_type, *_), _ = endpoint_standins.endpoints.invoke.call_args
    assert (endpoint_name, len(received), content_type) == ("mlops-endpoint", MAX_REALTIME_PAYLOAD_BYTES, "text/csv")


def _training_with(tmp_path: Path, **training: object) -> Path:
    document = json.loads(REPOSITORY_CONFIG.read_text())
    document["training"] = training
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(document))
    return path


def test_scikit_learn_on_several_instances_is_refused_as_idle_cost(tmp_path):
    # Given the scikit-learn trainer, which fits on one host, When the config asks for two
    # instances, Then it is refused at load, saying why and what to do instead.
    with pytest.raises(ConfigError) as refused:
        load_config(_training_with(tmp_path, framework="sklearn", instance_count=2))
    message = str(refused.value)
    assert "training.instance_count 2 with framework 'sklearn'" in message
    assert "framework 'xgboost'" in message


def test_xgboost_on_several_instances_loads(tmp_path):
    training = load_config(_training_with(tmp_path, framework="xgboost", instance_count=4)).training
    assert (training.instance_count, training.framework_version) == (4, "3.0-5")


def test_a_training_section_without_a_framework_is_the_scikit_learn_one_it_was(tmp_path):
    training = load_config(_training_with(tmp_path)).training
    assert (training.framework, training.framework_version, training.instance_count) == ("sklearn", "1.4-2", 1)
    assert training.hyperparameters == {"estimator": "gradient_boosting", "max_iter": 200, "learning_rate": 0.1}


@pytest.mark.parametrize(
    ("training", "message"),
    [
        ({"framework": "xgboost", "framework_version": "1.4-2"}, "training.framework_version '1.4-2' is not the xgboost image"),
        ({"framework": "xgboost", "hyperparameters": {"estimator": "linear"}}, "'estimator' are not hyperparameters of the XGBoost trainer"),
    ],
)
def test_an_xgboost_training_section_with_the_scikit_learn_settings_is_refused(tmp_path, training, message):
    # Given a config switched to XGBoost that keeps what `mlops init` wrote for scikit-learn
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(_training_with(tmp_path, **training))


def test_the_configs_xgboost_hyperparameters_are_the_trainers():
    # The trainer imports xgboost, which only the image has: its table is read from the source.
    source = (REPOSITORY_CONFIG.parent / "functions" / "training_xgboost" / "train.py").read_text()
    table = next(
        node.value
        for node in ast.parse(source).body
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "HYPERPARAMETER_TYPES"
    )
    assert XGBOOST_HYPERPARAMETER_NAMES == {key.value for key in table.keys}
