"""The one place Lambda functions are made, so every function is configured the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jsii
from aws_cdk import Aws, CfnMapping, Duration, RemovalPolicy, Size, Stack, Token, aws_iam as iam, aws_kms as kms
from aws_cdk import aws_lambda as lambda_, aws_logs as logs, aws_sqs as sqs
from constructs import Construct

from infra import regions, runtime_manifest
from infra.constructs.nag import acknowledge


@jsii.implements(lambda_.IDestination)
class _QueueDestination:
    """An SQS on-failure destination whose permissions the factory writes itself.

    aws_lambda_destinations.SqsDestination grants `kms:ReEncrypt*` and
    `kms:GenerateDataKey*` for encrypted queues; the role already holds the exact key
    actions it needs.
    """

    def __init__(self, queue: sqs.IQueue) -> None:
        self._queue = queue

    def bind(self, scope: Construct, fn: lambda_.IFunction, *, type: lambda_.DestinationType) -> lambda_.DestinationConfig:  # noqa: A002
        return lambda_.DestinationConfig(destination=self._queue.queue_arn)


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between the pipeline's functions."""

    name: str  # the package under functions/, e.g. "validate_data"
    description: str
    memory_mb: int
    timeout: Duration
    environment: Mapping[str, str]
    ephemeral_storage_mb: int = 512
    # Asynchronously invoked functions send failed events to a queue (on-failure
    # destination); synchronously invoked ones name their caller, which owns retries and
    # failure handling.
    failure_queue: sqs.IQueue | None = None
    synchronous_invoker: str | None = None
    async_retry_attempts: int = 2
    async_max_event_age: Duration = Duration.hours(1)


@dataclass(frozen=True)
class PipelineFunction:
    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup

    def add_statements(self, *statements: iam.PolicyStatement) -> None:
        for statement in statements:
            self.role.add_to_policy(statement)


class LambdaFactory(Construct):
    """Creates the pipeline's functions: the runtime and architecture of the runtime manifest, managed layers, JSON logs,
    X-Ray, an explicit encrypted log group with retention, one role per function."""

    RUNTIME = lambda_.Runtime(runtime_manifest.lambda_runtime()["runtime"], lambda_.RuntimeFamily.PYTHON)
    ARCHITECTURE = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}[
        runtime_manifest.lambda_runtime()["architecture"]
    ]
    HANDLER_TEMPLATE = "functions.{name}.handler.lambda_handler"
    LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
    LOG_LEVEL = "INFO"

    # The managed layers' ARNs per region (infra/runtime_manifest.toml), resolved at deploy time.
    LAYER_MAPPING_ID = "ManagedLayers"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        encryption_key: kms.IKey,
        common_environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self._code = code
        self._encryption_key = encryption_key
        self._common_environment = dict(common_environment)
        stack = Stack.of(self)
        if Token.is_unresolved(stack.region):
            mapping = CfnMapping(stack, self.LAYER_MAPPING_ID, mapping=_layer_mapping(), lazy=False)
            pandas_arn = mapping.find_in_map(Aws.REGION, "pandas")
            powertools_arn = mapping.find_in_map(Aws.REGION, "powertools")
        else:
            layers = regions.layers_for(stack.region)
            pandas_arn, powertools_arn = layers.pandas, layers.powertools
        self.layers: Sequence[lambda_.ILayerVersion] = [
            lambda_.LayerVersion.from_layer_version_arn(self, "PandasLayer", pandas_arn),
            lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", powertools_arn),
        ]

    def create(self, scope: Construct, construct_id: str, spec: FunctionSpec) -> PipelineFunction:
        if (spec.failure_queue is None) == (spec.synchronous_invoker is None):
            raise ValueError(f"{spec.name}: give exactly one of failure_queue and synchronous_invoker")
        log_group = logs.LogGroup(
            scope,
            f"{construct_id}Logs",
            retention=self.LOG_RETENTION,
            encryption_key=self._encryption_key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            scope,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the {spec.name} function",
        )
        # Written out instead of the AWSLambdaBasicExecutionRole managed policy, which
        # allows writing to every log group in the account.
        log_group.grant_write(role)
        environment = {
            **self._common_environment,
            "POWERTOOLS_SERVICE_NAME": spec.name,
            "POWERTOOLS_LOG_LEVEL": self.LOG_LEVEL,
            **spec.environment,
        }
        function = lambda_.Function(
            scope,
            construct_id,
            description=spec.description,
            code=self._code,
            handler=self.HANDLER_TEMPLATE.format(name=spec.name),
            runtime=self.RUNTIME,
            architecture=self.ARCHITECTURE,
            layers=list(self.layers),
            memory_size=spec.memory_mb,
            timeout=spec.timeout,
            ephemeral_storage_size=Size.mebibytes(spec.ephemeral_storage_mb),
            environment=environment,
            role=role,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            tracing=lambda_.Tracing.ACTIVE,
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "X-Ray PutTraceSegments and PutTelemetryRecords have no resource-level permissions.",
            findings=["Resource::*"],
        )
        runtime_reason = (
            f"Pinned to {self.RUNTIME.name}: the managed Powertools and AWS SDK for pandas layers the "
            "functions depend on are published per Python version and pinned in infra/runtime_manifest.toml."
        )
        acknowledge(function, "Serverless-LambdaLatestVersion", runtime_reason)
        acknowledge(function, "AwsSolutions-L1", runtime_reason)
        if spec.failure_queue is not None:
            role.add_to_policy(
                iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[spec.failure_queue.queue_arn])
            )
            function.configure_async_invoke(
                on_failure=_QueueDestination(spec.failure_queue),
                retry_attempts=spec.async_retry_attempts,
                max_event_age=spec.async_max_event_age,
            )
            acknowledge(
                function,
                "Serverless-LambdaDLQ",
                "Failed asynchronous invocations go to the on-failure destination (an encrypted "
                "SQS queue), which records the event with the error; a dead-letter queue would "
                "duplicate it.",
            )
        else:
            acknowledge(
                function,
                "Serverless-LambdaDLQ",
                f"Invoked synchronously by {spec.synchronous_invoker}, whose Retry and Catch "
                "handle failures; Lambda dead-letter queues only apply to asynchronous invocations.",
            )
        return PipelineFunction(function=function, role=role, log_group=log_group)


def _layer_mapping() -> dict[str, dict[str, str]]:
    """Region -> the layers' ARNs, for every region that offers both layers."""
    mapping = {}
    for _, region in regions.PANDAS_LAYERS:
        if not regions.missing_layers(region):
            layers = regions.layers_for(region)
            mapping[region] = {"pandas": layers.pandas, "powertools": layers.powertools}
    return mapping
