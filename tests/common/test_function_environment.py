"""A function's settings model: read from the environment at invocation, written by the infra."""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError

from functions.alarm_responder.settings import ResponderSettings
from functions.common.environment import EnvironmentValue, FunctionEnvironment
from functions.common.errors import MissingEnvironmentError


class ExampleSettings(FunctionEnvironment):
    data_bucket: EnvironmentValue = Field(alias="EXAMPLE_DATA_BUCKET")
    endpoint_name: EnvironmentValue = Field(alias="EXAMPLE_ENDPOINT_NAME")


@pytest.fixture
def environment(monkeypatch):
    monkeypatch.setenv("EXAMPLE_DATA_BUCKET", " data-bucket ")
    monkeypatch.setenv("EXAMPLE_ENDPOINT_NAME", "mlops-endpoint")
    return monkeypatch


def test_settings_are_read_from_the_variables_their_aliases_name(environment):
    settings = ExampleSettings.from_environment()

    assert (settings.data_bucket, settings.endpoint_name) == ("data-bucket", "mlops-endpoint")


@pytest.mark.parametrize("name", ["EXAMPLE_DATA_BUCKET", "EXAMPLE_ENDPOINT_NAME"])
def test_a_missing_variable_is_a_typed_error_naming_it(environment, name):
    environment.delenv(name)

    with pytest.raises(MissingEnvironmentError) as raised:
        ExampleSettings.from_environment()

    assert raised.value.name == name
    assert str(raised.value) == f"environment variable {name} is not set"


def test_a_blank_variable_is_missing(environment):
    environment.setenv("EXAMPLE_ENDPOINT_NAME", "   ")

    with pytest.raises(MissingEnvironmentError) as raised:
        ExampleSettings.from_environment()

    assert raised.value.name == "EXAMPLE_ENDPOINT_NAME"


def test_the_environment_is_written_under_the_variable_names():
    settings = ExampleSettings(data_bucket="data-bucket", endpoint_name="${Token[TOKEN.42]}")

    assert settings.to_environment() == {"EXAMPLE_DATA_BUCKET": "data-bucket", "EXAMPLE_ENDPOINT_NAME": "${Token[TOKEN.42]}"}


def test_the_written_environment_reads_back_as_the_same_settings(monkeypatch):
    settings = ResponderSettings(
        data_bucket="data-bucket",
        model_package_group="mlops-models",
        endpoint_name="mlops-endpoint",
        topic_arn="arn:aws:sns:us-east-1:123456789012:mlops-alarms",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:mlops-training-pipeline",
        model_role_arn="arn:aws:iam::123456789012:role/model",
        idempotency_table="alarm-transitions",
        metrics_namespace="mlops/monitoring",
        alarm_arns="arn:aws:cloudwatch:us-east-1:123456789012:alarm:mlops-errors",
    )
    for name, value in settings.to_environment().items():
        monkeypatch.setenv(name, value)

    assert ResponderSettings.from_environment() == settings


@pytest.mark.parametrize(
    "values",
    [
        {"data_bucket": "data-bucket"},
        {"data_bucket": "data-bucket", "endpoint_name": ""},
        {"data_bucket": "data-bucket", "endpoint_name": "mlops-endpoint", "endpont_name": "misspelled"},
    ],
    ids=["left out", "blank", "misspelled"],
)
def test_the_infrastructure_cannot_write_an_incomplete_environment(values):
    with pytest.raises(ValidationError):
        ExampleSettings(**values)


def test_a_field_without_a_variable_name_is_refused_when_the_model_is_defined():
    with pytest.raises(TypeError, match="alias"):

        class Unnamed(FunctionEnvironment):
            data_bucket: EnvironmentValue
