"""The environment of the "Register version" function."""

from __future__ import annotations

from pydantic import Field

from functions.common.environment import EnvironmentValue, FunctionEnvironment


class RegistrationSettings(FunctionEnvironment):
    data_bucket: EnvironmentValue = Field(alias="DATA_BUCKET")
    model_package_group: EnvironmentValue = Field(alias="MODEL_PACKAGE_GROUP")
    # The serving image of the region the stack is deployed in.
    inference_image_uri: EnvironmentValue = Field(alias="INFERENCE_IMAGE_URI")
    # The version of the training source bundle, recorded as the code version of every candidate.
    code_version: EnvironmentValue = Field(alias="CODE_VERSION")
