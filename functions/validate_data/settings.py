"""The environment of the "Validate data" function."""

from __future__ import annotations

from pydantic import Field

from functions.common.environment import EnvironmentValue, FunctionEnvironment


class ValidateDataSettings(FunctionEnvironment):
    data_bucket: EnvironmentValue = Field(alias="DATA_BUCKET")
    model_package_group: EnvironmentValue = Field(alias="MODEL_PACKAGE_GROUP")
    # With deployment.mode realtime the upload is checked for drift against the version serving
    # here, and judged against it; batch_only has no endpoint and uses the newest approved version.
    endpoint_name: EnvironmentValue = Field(alias="ENDPOINT_NAME")
