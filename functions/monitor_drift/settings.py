"""The environment of the drift monitor."""

from __future__ import annotations

from pydantic import Field

from functions.common.environment import EnvironmentValue, FunctionEnvironment


class DriftMonitorSettings(FunctionEnvironment):
    data_bucket: EnvironmentValue = Field(alias="DATA_BUCKET")
    endpoint_name: EnvironmentValue = Field(alias="ENDPOINT_NAME")
    # Where the PSI metrics the drift alarm watches are published.
    metrics_namespace: EnvironmentValue = Field(alias="METRICS_NAMESPACE")
