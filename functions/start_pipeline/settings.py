"""The environment of the "Start pipeline" function."""

from __future__ import annotations

from pydantic import Field

from functions.common.environment import EnvironmentValue, FunctionEnvironment


class StartPipelineSettings(FunctionEnvironment):
    state_machine_arn: EnvironmentValue = Field(alias="STATE_MACHINE_ARN")
    # The only sources of events it starts executions for: uploads to this bucket and
    # approvals in this model package group.
    data_bucket: EnvironmentValue = Field(alias="DATA_BUCKET")
    model_package_group: EnvironmentValue = Field(alias="MODEL_PACKAGE_GROUP")
