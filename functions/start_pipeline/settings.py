"""The environment of the "Start pipeline" function."""

from __future__ import annotations

from pydantic import Field

from functions.common.environment import EnvironmentValue, FunctionEnvironment


class StartPipelineSettings(FunctionEnvironment):
    state_machine_arn: EnvironmentValue = Field(alias="STATE_MACHINE_ARN")
