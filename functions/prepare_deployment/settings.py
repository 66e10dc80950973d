"""The environment of the "Prepare deployment" function."""

from __future__ import annotations

from pydantic import Field

from functions.common.environment import EnvironmentValue, FunctionEnvironment


class DeploymentSettings(FunctionEnvironment):
    model_package_group: EnvironmentValue = Field(alias="MODEL_PACKAGE_GROUP")
    endpoint_name: EnvironmentValue = Field(alias="ENDPOINT_NAME")
