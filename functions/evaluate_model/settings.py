"""The environment of the "Evaluate model" function."""

from __future__ import annotations

from pydantic import Field

from functions.common.environment import EnvironmentValue, FunctionEnvironment


class EvaluationSettings(FunctionEnvironment):
    data_bucket: EnvironmentValue = Field(alias="DATA_BUCKET")
    model_package_group: EnvironmentValue = Field(alias="MODEL_PACKAGE_GROUP")
