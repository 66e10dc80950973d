"""The environment of the alarm responder."""

from __future__ import annotations

from pydantic import Field

from functions.common.environment import EnvironmentValue, FunctionEnvironment


class ResponderSettings(FunctionEnvironment):
    data_bucket: EnvironmentValue = Field(alias="DATA_BUCKET")
    model_package_group: EnvironmentValue = Field(alias="MODEL_PACKAGE_GROUP")
    endpoint_name: EnvironmentValue = Field(alias="ENDPOINT_NAME")
    topic_arn: EnvironmentValue = Field(alias="TOPIC_ARN")
    # Recorded with a retraining decision: the state machine the new upload starts.
    state_machine_arn: EnvironmentValue = Field(alias="STATE_MACHINE_ARN")
    # The role a rolled-back version's SageMaker model is created with.
    model_role_arn: EnvironmentValue = Field(alias="MODEL_ROLE_ARN")
    # One record per alarm transition, so a transition EventBridge delivers twice is acted on once.
    idempotency_table: EnvironmentValue = Field(alias="IDEMPOTENCY_TABLE")
    # Where a rollback publishes the version it restored (DeployedModelVersion).
    metrics_namespace: EnvironmentValue = Field(alias="METRICS_NAMESPACE")
    # The stack's alarms, comma-separated ARNs: the responder acts on no other alarm's events.
    alarm_arns: EnvironmentValue = Field(alias="ALARM_ARNS")

    @property
    def stack_alarm_arns(self) -> frozenset[str]:
        return frozenset(arn for arn in self.alarm_arns.split(",") if arn)
