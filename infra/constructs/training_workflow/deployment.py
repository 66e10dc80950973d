"""Deployment of an approved version, under the deployment lock: its model, an endpoint
config with data capture, then the endpoint created or updated blue/green with automatic
rollback on the alarms, waited on until it serves the new config, serves the old one (rolled
back) or fails."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, aws_iam as iam, aws_kms as kms, aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from functions.common import s3_layout
from functions.common.config import DeploymentConfig
from functions.common.outcome import Outcome
from infra.constructs.training_workflow.lock import DeploymentLockStates
from infra.constructs.training_workflow.states import Exit, WorkflowStates

VARIANT_NAME = "AllTraffic"


def deploy(
    scope: Construct,
    states: WorkflowStates,
    lock: DeploymentLockStates,
    *,
    config: DeploymentConfig,
    model_role: iam.IRole,
    data_bucket: s3.IBucket,
    key: kms.IKey,
    rollback_alarm_names: Sequence[str],
    after: Sequence[Exit],
) -> None:
    """Deploy the version in $.registration where `after` leads."""
    endpoint_name = config.endpoint_name
    create_model = states.sagemaker_call(
        "Create model",
        "createModel",
        {
            "ModelName": sfn.JsonPath.string_at("$.registration.model_name"),
            "ExecutionRoleArn": model_role.role_arn,
            "PrimaryContainer": {
                "Image": sfn.JsonPath.string_at("$.registration.image_uri"),
                "ModelDataUrl": sfn.JsonPath.string_at("$.registration.model_data_url"),
                "Environment": sfn.JsonPath.object_at("$.registration.environment"),
            },
            "EnableNetworkIsolation": True,
        },
        result_path=sfn.JsonPath.DISCARD,
    )
    for leads_here in after:
        leads_here(create_model)
    create_endpoint_config = states.sagemaker_call(
        "Create endpoint config",
        "createEndpointConfig",
        _endpoint_config_parameters(config, data_bucket=data_bucket, key=key),
        result_path=sfn.JsonPath.DISCARD,
    )
    find_endpoint = states.sagemaker_call(
        "Find endpoint",
        "listEndpoints",
        {"NameContains": endpoint_name},
        result_selector={"names": sfn.JsonPath.list_at("$.Endpoints[*].EndpointName")},
        result_path="$.existing_endpoints",
    )
    # NameContains matches substrings; the exact name decides between create and update.
    match_endpoint = sfn.Pass(
        scope,
        "Match endpoint name",
        parameters={
            "names": sfn.JsonPath.list_at("$.existing_endpoints.names"),
            "exists": sfn.JsonPath.array_contains(sfn.JsonPath.list_at("$.existing_endpoints.names"), endpoint_name),
        },
        result_path="$.existing_endpoints",
    )
    create_endpoint = states.sagemaker_call(
        "Create endpoint",
        "createEndpoint",
        {
            "EndpointName": endpoint_name,
            "EndpointConfigName": sfn.JsonPath.string_at("$.registration.endpoint_config_name"),
        },
        result_path=sfn.JsonPath.DISCARD,
    )
    update_parameters: dict[str, object] = {
        "EndpointName": endpoint_name,
        "EndpointConfigName": sfn.JsonPath.string_at("$.registration.endpoint_config_name"),
    }
    if not config.serverless:
        update_parameters["DeploymentConfig"] = _deployment_config(config, rollback_alarm_names)
    update_endpoint = states.sagemaker_call(
        "Update endpoint", "updateEndpoint", update_parameters, result_path=sfn.JsonPath.DISCARD
    )
    create_model.next(create_endpoint_config).next(find_endpoint).next(match_endpoint).next(
        sfn.Choice(scope, "Endpoint exists?")
        .when(sfn.Condition.boolean_equals("$.existing_endpoints.exists", True), update_endpoint)
        .otherwise(create_endpoint)
    )

    describe_endpoint = states.sagemaker_call(
        "Describe endpoint",
        "describeEndpoint",
        {"EndpointName": endpoint_name},
        result_selector={
            "status": sfn.JsonPath.string_at("$.EndpointStatus"),
            "endpoint_config_name": sfn.JsonPath.string_at("$.EndpointConfigName"),
        },
        result_path="$.endpoint",
    )
    create_endpoint.next(describe_endpoint)
    update_endpoint.next(describe_endpoint)
    wait_for_endpoint = sfn.Wait(
        scope,
        "Wait for endpoint",
        time=sfn.WaitTime.duration(Duration.seconds(config.poll_interval_seconds)),
    )
    wait_for_endpoint.next(describe_endpoint)
    deployed = states.notify(
        "Notify deployed",
        f"Model version {{}} is serving on endpoint {endpoint_name} (endpoint config {{}}).",
        "$.registration.model_version",
        "$.registration.endpoint_config_name",
        subject="model deployed",
    ).next(
        states.record(
            "Record deployed",
            Outcome.DEPLOYED,
            sfn.JsonPath.format(
                f"model version {{}} is serving on endpoint {endpoint_name}",
                sfn.JsonPath.string_at("$.registration.model_version"),
            ),
        )
    ).next(sfn.Succeed(scope, "Deployed"))
    rolled_back = states.notify(
        "Notify deployment rolled back",
        f"Deployment of model version {{}} was rolled back: endpoint {endpoint_name} "
        "still serves endpoint config {}.",
        "$.registration.model_version",
        "$.endpoint.endpoint_config_name",
        subject="deployment rolled back",
    ).next(
        sfn.Fail(
            scope,
            "Deployment rolled back",
            error="DeploymentRolledBack",
            cause="The endpoint rolled back to its previous configuration",
        )
    )
    deployment_failed = states.notify(
        "Notify deployment failed",
        f"Deployment of model version {{}} failed: endpoint {endpoint_name} is {{}}.",
        "$.registration.model_version",
        "$.endpoint.status",
        subject="deployment failed",
    ).next(sfn.Fail(scope, "Deployment failed", error="DeploymentFailed", cause="The endpoint failed"))
    describe_endpoint.next(
        sfn.Choice(scope, "Endpoint ready?")
        .when(
            sfn.Condition.and_(
                sfn.Condition.string_equals("$.endpoint.status", "InService"),
                sfn.Condition.string_equals_json_path(
                    "$.endpoint.endpoint_config_name", "$.registration.endpoint_config_name"
                ),
            ),
            lock.release("Release deployment lock (deployed)").next(deployed),
        )
        .when(
            sfn.Condition.string_equals("$.endpoint.status", "InService"),
            lock.release("Release deployment lock (rolled back)").next(rolled_back),
        )
        .when(
            sfn.Condition.string_equals("$.endpoint.status", "Failed"),
            lock.release("Release deployment lock (deployment failed)").next(deployment_failed),
        )
        .otherwise(wait_for_endpoint)
    )


def _endpoint_config_parameters(
    config: DeploymentConfig, *, data_bucket: s3.IBucket, key: kms.IKey
) -> dict[str, object]:
    variant: dict[str, object] = {
        "VariantName": VARIANT_NAME,
        "ModelName": sfn.JsonPath.string_at("$.registration.model_name"),
    }
    parameters: dict[str, object] = {
        "EndpointConfigName": sfn.JsonPath.string_at("$.registration.endpoint_config_name"),
        "ProductionVariants": [variant],
    }
    if config.serverless:
        variant["ServerlessConfig"] = {
            "MemorySizeInMB": config.serverless_memory_mb,
            "MaxConcurrency": config.serverless_max_concurrency,
        }
        # Serverless endpoints support neither data capture nor a storage KMS key.
        return parameters
    variant["InstanceType"] = config.instance_type
    variant["InitialInstanceCount"] = config.initial_instance_count
    parameters["DataCaptureConfig"] = {
        "EnableCapture": True,
        "InitialSamplingPercentage": config.data_capture_percent,
        # SageMaker appends /<endpoint>/<variant>/yyyy/mm/dd/hh/ itself; a trailing slash
        # here would put an empty path segment into every capture key.
        "DestinationS3Uri": data_bucket.s3_url_for_object(s3_layout.CAPTURE_PREFIX.rstrip("/")),
        "KmsKeyId": key.key_arn,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
    }
    parameters["KmsKeyId"] = key.key_arn
    return parameters


def _deployment_config(config: DeploymentConfig, rollback_alarm_names: Sequence[str]) -> dict[str, object]:
    routing: dict[str, object] = {"WaitIntervalInSeconds": config.wait_interval_seconds}
    if config.strategy == "canary":
        routing["Type"] = "CANARY"
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": config.canary_percent}
    elif config.strategy == "linear":
        routing["Type"] = "LINEAR"
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": config.linear_step_percent}
    else:
        routing["Type"] = "ALL_AT_ONCE"
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": config.termination_wait_seconds,
            "MaximumExecutionTimeoutInSeconds": config.maximum_execution_timeout_seconds,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in rollback_alarm_names]},
    }
