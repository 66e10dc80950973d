"""The environment of the quality monitor."""

from __future__ import annotations

from pydantic import Field

from functions.common.environment import EnvironmentValue, FunctionEnvironment


class QualityMonitorSettings(FunctionEnvironment):
    data_bucket: EnvironmentValue = Field(alias="DATA_BUCKET")
    endpoint_name: EnvironmentValue = Field(alias="ENDPOINT_NAME")
    # Where the live quality metrics the quality alarm watches are published.
    metrics_namespace: EnvironmentValue = Field(alias="METRICS_NAMESPACE")
