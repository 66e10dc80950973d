"""Every function checks its environment before it parses its event or makes a client."""

from __future__ import annotations

import importlib

import boto3
import pytest

from functions.alarm_responder.settings import ResponderSettings
from functions.common.environment import FunctionEnvironment
from functions.common.errors import MissingEnvironmentError
from functions.evaluate_model.settings import EvaluationSettings
from functions.monitor_drift.settings import DriftMonitorSettings
from functions.monitor_quality.settings import QualityMonitorSettings
from functions.prepare_deployment.settings import DeploymentSettings
from functions.register_model.settings import RegistrationSettings
from functions.start_pipeline.settings import StartPipelineSettings
from functions.validate_data.settings import ValidateDataSettings
from tests.support.lambda_handlers import lambda_context

SETTINGS_BY_FUNCTION: dict[str, type[FunctionEnvironment]] = {
    "alarm_responder": ResponderSettings,
    "evaluate_model": EvaluationSettings,
    "monitor_drift": DriftMonitorSettings,
    "monitor_quality": QualityMonitorSettings,
    "prepare_deployment": DeploymentSettings,
    "register_model": RegistrationSettings,
    "start_pipeline": StartPipelineSettings,
    "validate_data": ValidateDataSettings,
}
# Not an event any of the functions accepts: parsing it first would fail with a ValidationError.
UNPARSEABLE_EVENT = {"unexpected": True}


@pytest.mark.parametrize("function_name", sorted(SETTINGS_BY_FUNCTION))
def test_a_missing_variable_fails_the_invocation_before_any_work(function_name, monkeypatch):
    settings_model = SETTINGS_BY_FUNCTION[function_name]
    handler_module = importlib.import_module(f"functions.{function_name}.handler")
    variable_names = [field.alias for field in settings_model.model_fields.values()]
    for name in variable_names:
        monkeypatch.delenv(name, raising=False)
    clients_made = []
    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: clients_made.append(args))

    with pytest.raises(MissingEnvironmentError) as raised:
        handler_module.lambda_handler(UNPARSEABLE_EVENT, lambda_context(function_name, 512, 1))

    assert raised.value.name == variable_names[0]
    assert clients_made == []
