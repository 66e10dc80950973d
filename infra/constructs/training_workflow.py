"""The training state machine: validate -> train -> evaluate -> register -> deploy, or, when
a person approves a version in the Model Registry, prepare deployment -> deploy.

State names, payloads and result paths are a contract with the Lambda handlers
(functions/common/contracts.py), the local runtime and the CLI; see the state document
below. SageMaker is called through `aws-sdk` integrations and waited on with
Describe -> Choice -> Wait loops (no `.sync`), so the same definition runs in the cloud and
in the local interpreter.

State document (JSONPath): the event that started the execution (S3 "Object Created", or
"SageMaker Model Package State Change" with source aws.sagemaker), plus by result path
`$.validation`, `$.training`, `$.evaluation`, `$.registration` (Register version's or Prepare
deployment's result, the same shape), `$.existing_endpoints`, `$.endpoint`, `$.error` (Catch)
and `$.result` ({"outcome", "reason"}, set right before each successful end).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Stack, aws_iam as iam, aws_kms as kms, aws_lambda as lambda_
from aws_cdk import aws_logs as logs, aws_s3 as s3, aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks
from constructs import Construct

from functions.common import s3_layout
from functions.common.config import DeploymentConfig, PipelineConfig
from infra.constructs.nag import acknowledge
from infra.constructs.permissions import (
    acknowledge_sagemaker_patterns,
    grant_key_grants_for_sagemaker,
    project_pattern,
    sagemaker_arn,
)
from infra.constructs.training import TrainingResources

VARIANT_NAME = "AllTraffic"
SOURCE_CHANNEL = "code"
DATA_CHANNELS = ("train", "validation", "test")
SAGEMAKER_CONTAINER_LOG_LEVEL = "20"
LAMBDA_RETRY_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
# Errors the SageMaker API model names reach Step Functions as SageMaker.<Name>Exception;
# throttling and internal errors are not in the model and arrive as the service's generic
# SageMaker.AmazonSageMakerException.
SAGEMAKER_RETRY_ERRORS = [
    "SageMaker.AmazonSageMakerException",
    "SageMaker.ResourceLimitExceededException",
    "SageMaker.ThrottlingException",
    "SageMaker.InternalFailure",
    "SageMaker.ServiceUnavailable",
]
TRAINING_JOB_EXISTS_ERROR = "SageMaker.ResourceInUseException"
LAMBDA_RETRY_INTERVAL = Duration.seconds(2)
LAMBDA_RETRY_MAX_ATTEMPTS = 3
SAGEMAKER_RETRY_INTERVAL = Duration.seconds(5)
SAGEMAKER_RETRY_MAX_ATTEMPTS = 5
NOTIFY_RETRY_INTERVAL = Duration.seconds(2)
NOTIFY_RETRY_MAX_ATTEMPTS = 3
RETRY_BACKOFF_RATE = 2.0
# Beyond the Lambda function's own timeout: queueing and cold start.
LAMBDA_TASK_MARGIN = Duration.minutes(1)
SAGEMAKER_CALL_TIMEOUT = Duration.minutes(5)
NOTIFY_TIMEOUT = Duration.minutes(1)
# Added to training and deployment time limits for the Lambda steps, polling and retries.
STATE_MACHINE_TIME_MARGIN_SECONDS = 3 * 3600
LOG_RETENTION = logs.RetentionDays.SIX_MONTHS
ENDPOINT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# The source of the Model Registry's approval events; any other event is an upload.
APPROVAL_EVENT_SOURCE = "aws.sagemaker"


@dataclass(frozen=True)
class WorkflowFunctions:
    validate: lambda_.IFunction
    evaluate: lambda_.IFunction
    register: lambda_.IFunction
    prepare_deployment: lambda_.IFunction


def _lambda_task_timeout(function: lambda_.IFunction) -> sfn.Timeout:
    timeout = function.timeout if isinstance(function, lambda_.Function) and function.timeout else Duration.minutes(15)
    return sfn.Timeout.duration(timeout.plus(LAMBDA_TASK_MARGIN))


class TrainingWorkflow(Construct):
    """The state machine, its role and its log group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        functions: WorkflowFunctions,
        training: TrainingResources,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        topic: sns.ITopic,
        rollback_alarm_names: list[str],
    ) -> None:
        super().__init__(scope, construct_id)
        if not ENDPOINT_NAME_PATTERN.match(config.deployment.endpoint_name):
            raise ValueError(f"invalid SageMaker endpoint name {config.deployment.endpoint_name!r}")
        self._config = config
        self._project = config.project
        self._endpoint_name = config.deployment.endpoint_name
        self._functions = functions
        self._training = training
        self._data_bucket = data_bucket
        self._artifacts_bucket = artifacts_bucket
        self._key = encryption_key
        self._topic = topic
        self._rollback_alarm_names = rollback_alarm_names

        self.log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION, encryption_key=encryption_key)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=f"Runs the {self._project} training state machine",
        )
        self._pipeline_failed = sfn.Fail(self, "Pipeline failed", error="PipelineFailed", cause="A pipeline step failed")
        self._notify_failure = self._notify(
            "Notify pipeline failure",
            "Pipeline execution {} failed: {}",
            "$$.Execution.Name",
            "$.error.Cause",
            subject="pipeline failed",
            catch=False,
        )
        self._notify_failure.add_catch(self._pipeline_failed, errors=["States.ALL"], result_path="$.error")
        self._notify_failure.next(self._pipeline_failed)

        config_seconds = config.training.max_runtime_seconds + config.deployment.maximum_execution_timeout_seconds
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=f"{self._project}-training-pipeline",
            state_machine_type=sfn.StateMachineType.STANDARD,
            comment=f"{self._project}: validate data, train, evaluate, register and deploy a model",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            role=self.role,
            timeout=Duration.seconds(config_seconds + STATE_MACHINE_TIME_MARGIN_SECONDS),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        self._grant_role()

    # ----------------------------------------------------------------- definition

    def _definition(self) -> sfn.IChainable:
        validate = self._invoke(
            "Validate data",
            self._functions.validate,
            {
                "bucket": sfn.JsonPath.string_at("$.detail.bucket.name"),
                "key": sfn.JsonPath.string_at("$.detail.object.key"),
                "execution_arn": sfn.JsonPath.string_at("$$.Execution.Id"),
                "execution_name": sfn.JsonPath.string_at("$$.Execution.Name"),
            },
            "$.validation",
        )
        data_rejected = self._notify(
            "Notify data rejected",
            "Data rejected: {} ({}). A copy is kept in {}.",
            "$.validation.source_uri",
            "$.validation.reason",
            "$.validation.quarantine_uri",
            subject="data rejected",
        ).next(
            self._record("Record data rejected", "data_rejected", sfn.JsonPath.string_at("$.validation.reason"))
        ).next(sfn.Succeed(self, "Data rejected"))
        duplicate = self._record(
            "Record duplicate", "duplicate", sfn.JsonPath.string_at("$.validation.reason")
        ).next(sfn.Succeed(self, "Duplicate upload"))

        start_training = self._start_training()
        describe_training = self._sagemaker_call(
            "Describe training job",
            "describeTrainingJob",
            {"TrainingJobName": sfn.JsonPath.string_at("$.validation.training_job_name")},
            result_selector={"status": sfn.JsonPath.string_at("$.TrainingJobStatus")},
            result_path="$.training",
        )
        # A redriven execution finds its training job already created: describe it instead.
        # The error lands in $.training, which the describe overwrites.
        start_training.add_catch(describe_training, errors=[TRAINING_JOB_EXISTS_ERROR], result_path="$.training")
        self._catch_all(start_training)

        notify_training_failed = self._notify(
            "Notify training failed",
            "Training job {} did not complete: {}",
            "$.validation.training_job_name",
            sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.training")),
            subject="training failed",
        ).next(sfn.Fail(self, "Training failed", error="TrainingFailed", cause="The training job did not complete"))
        describe_failure = self._sagemaker_call(
            "Describe training failure",
            "describeTrainingJob",
            {"TrainingJobName": sfn.JsonPath.string_at("$.validation.training_job_name")},
            result_selector={
                "status": sfn.JsonPath.string_at("$.TrainingJobStatus"),
                "reason": sfn.JsonPath.string_at("$.FailureReason"),
            },
            result_path="$.training",
            iam_action="sagemaker:DescribeTrainingJob",
        )
        describe_failure.next(notify_training_failed)
        wait_for_training = sfn.Wait(
            self,
            "Wait for training",
            time=sfn.WaitTime.duration(Duration.seconds(self._config.training.poll_interval_seconds)),
        )
        wait_for_training.next(describe_training)

        evaluate = self._invoke(
            "Evaluate model",
            self._functions.evaluate,
            {
                "validation": sfn.JsonPath.object_at("$.validation"),
                "training_job_name": sfn.JsonPath.string_at("$.validation.training_job_name"),
                "execution_arn": sfn.JsonPath.string_at("$$.Execution.Id"),
            },
            "$.evaluation",
        )
        register = self._invoke(
            "Register version",
            self._functions.register,
            {
                "validation": sfn.JsonPath.object_at("$.validation"),
                "evaluation": sfn.JsonPath.object_at("$.evaluation"),
                "training_job_name": sfn.JsonPath.string_at("$.validation.training_job_name"),
                "execution_arn": sfn.JsonPath.string_at("$$.Execution.Id"),
            },
            "$.registration",
        )
        model_rejected = self._notify(
            "Notify model rejected",
            "Model from training job {} was rejected: {}",
            "$.validation.training_job_name",
            "$.evaluation.summary",
            subject="model rejected",
        ).next(
            self._record("Record model rejected", "model_rejected", sfn.JsonPath.string_at("$.evaluation.summary"))
        ).next(sfn.Succeed(self, "Model rejected"))
        pending_approval = self._notify(
            "Notify pending approval",
            "Model version {} ({}) is waiting for manual approval: {}",
            "$.registration.model_version",
            "$.registration.model_package_arn",
            "$.evaluation.summary",
            subject="model pending approval",
        ).next(
            self._record(
                "Record pending approval",
                "pending_approval",
                sfn.JsonPath.format(
                    "model version {} is waiting for manual approval",
                    sfn.JsonPath.string_at("$.registration.model_version"),
                ),
            )
        ).next(sfn.Succeed(self, "Pending approval"))

        deploy = self._deploy_chain()
        prepare_deployment = self._invoke(
            "Prepare deployment",
            self._functions.prepare_deployment,
            {
                "detail": sfn.JsonPath.object_at("$.detail"),
                "event_id": sfn.JsonPath.string_at("$.id"),
                "execution_arn": sfn.JsonPath.string_at("$$.Execution.Id"),
                "execution_name": sfn.JsonPath.string_at("$$.Execution.Name"),
            },
            "$.registration",
        )
        deployment_not_needed = self._record(
            "Record deployment not needed", "duplicate", sfn.JsonPath.string_at("$.registration.reason")
        ).next(sfn.Succeed(self, "Deployment not needed"))
        prepare_deployment.next(
            sfn.Choice(self, "Deployment needed?")
            .when(sfn.Condition.boolean_equals("$.registration.deploy", True), deploy)
            .otherwise(deployment_not_needed)
        )

        validate.next(
            sfn.Choice(self, "Data accepted?")
            .when(sfn.Condition.string_equals("$.validation.outcome", "duplicate"), duplicate)
            .when(sfn.Condition.string_equals("$.validation.outcome", "data_rejected"), data_rejected)
            .otherwise(start_training)
        )
        start_training.next(describe_training)
        describe_training.next(
            sfn.Choice(self, "Training finished?")
            .when(sfn.Condition.string_equals("$.training.status", "Completed"), evaluate)
            .when(sfn.Condition.string_equals("$.training.status", "Failed"), describe_failure)
            .when(sfn.Condition.string_equals("$.training.status", "Stopped"), notify_training_failed)
            .otherwise(wait_for_training)
        )
        evaluate.next(register)
        register.next(
            sfn.Choice(self, "Approval status?")
            .when(sfn.Condition.string_equals("$.registration.approval_status", "Rejected"), model_rejected)
            .when(
                sfn.Condition.string_equals("$.registration.approval_status", "PendingManualApproval"),
                pending_approval,
            )
            .when(sfn.Condition.string_equals("$.registration.approval_status", "Approved"), deploy)
            # An approval status outside the contract is a defect, not a decision.
            .otherwise(self._pipeline_failed)
        )
        return (
            sfn.Choice(self, "Which event?")
            .when(
                # A Choice on a missing field fails the execution; an input without `source` is an upload.
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.source"),
                    sfn.Condition.string_equals("$.source", APPROVAL_EVENT_SOURCE),
                ),
                prepare_deployment,
            )
            .otherwise(validate)
        )

    def _start_training(self) -> tasks.CallAwsService:
        training_config = self._config.training
        dataset = self._config.dataset
        bundle_key = self._training.source_bundle.s3_object_key
        hyperparameters = {
            "sagemaker_program": "train.py",
            "sagemaker_submit_directory": f"/opt/ml/input/data/{SOURCE_CHANNEL}/{bundle_key}",
            "sagemaker_region": Stack.of(self).region,
            "sagemaker_container_log_level": SAGEMAKER_CONTAINER_LOG_LEVEL,
            **{name: str(value) for name, value in training_config.hyperparameters.items()},
            "target": dataset.target,
            "problem_type": dataset.problem_type,
        }
        channels = [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": sfn.JsonPath.string_at(f"$.validation.channels.{channel}"),
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "text/csv",
            }
            for channel in DATA_CHANNELS
        ]
        channels.append(
            {
                "ChannelName": SOURCE_CHANNEL,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": self._training.source_bundle_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        )
        return tasks.CallAwsService(
            self,
            "Start training",
            service="sagemaker",
            action="createTrainingJob",
            iam_action="sagemaker:CreateTrainingJob",
            iam_resources=[self._training_job_arns],
            parameters={
                "TrainingJobName": sfn.JsonPath.string_at("$.validation.training_job_name"),
                "AlgorithmSpecification": {
                    "TrainingImage": self._training.training_image_uri,
                    "TrainingInputMode": "File",
                },
                "RoleArn": self._training.training_role.role_arn,
                "HyperParameters": hyperparameters,
                "InputDataConfig": channels,
                "OutputDataConfig": {
                    "S3OutputPath": self._artifacts_bucket.s3_url_for_object(s3_layout.TRAINING_OUTPUT_PREFIX),
                    "KmsKeyId": self._key.key_arn,
                },
                "ResourceConfig": {
                    "InstanceType": training_config.instance_type,
                    "InstanceCount": training_config.instance_count,
                    "VolumeSizeInGB": training_config.volume_size_gb,
                    "VolumeKmsKeyId": self._key.key_arn,
                },
                "StoppingCondition": {"MaxRuntimeInSeconds": training_config.max_runtime_seconds},
                "EnableNetworkIsolation": training_config.network_isolation,
            },
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(SAGEMAKER_CALL_TIMEOUT),
        ).add_retry(
            errors=SAGEMAKER_RETRY_ERRORS,
            interval=SAGEMAKER_RETRY_INTERVAL,
            max_attempts=SAGEMAKER_RETRY_MAX_ATTEMPTS,
            backoff_rate=RETRY_BACKOFF_RATE,
        )

    def _deploy_chain(self) -> sfn.IChainable:
        deployment = self._config.deployment
        create_model = self._sagemaker_call(
            "Create model",
            "createModel",
            {
                "ModelName": sfn.JsonPath.string_at("$.registration.model_name"),
                "ExecutionRoleArn": self._training.model_role.role_arn,
                "PrimaryContainer": {
                    "Image": sfn.JsonPath.string_at("$.registration.image_uri"),
                    "ModelDataUrl": sfn.JsonPath.string_at("$.registration.model_data_url"),
                    "Environment": sfn.JsonPath.object_at("$.registration.environment"),
                },
                "EnableNetworkIsolation": True,
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        create_endpoint_config = self._sagemaker_call(
            "Create endpoint config",
            "createEndpointConfig",
            self._endpoint_config_parameters(deployment),
            result_path=sfn.JsonPath.DISCARD,
        )
        find_endpoint = self._sagemaker_call(
            "Find endpoint",
            "listEndpoints",
            {"NameContains": self._endpoint_name},
            result_selector={"names": sfn.JsonPath.list_at("$.Endpoints[*].EndpointName")},
            result_path="$.existing_endpoints",
        )
        # NameContains matches substrings; the exact name decides between create and update.
        match_endpoint = sfn.Pass(
            self,
            "Match endpoint name",
            parameters={
                "names": sfn.JsonPath.list_at("$.existing_endpoints.names"),
                "exists": sfn.JsonPath.array_contains(
                    sfn.JsonPath.list_at("$.existing_endpoints.names"), self._endpoint_name
                ),
            },
            result_path="$.existing_endpoints",
        )
        create_endpoint = self._sagemaker_call(
            "Create endpoint",
            "createEndpoint",
            {
                "EndpointName": self._endpoint_name,
                "EndpointConfigName": sfn.JsonPath.string_at("$.registration.endpoint_config_name"),
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        update_parameters: dict[str, object] = {
            "EndpointName": self._endpoint_name,
            "EndpointConfigName": sfn.JsonPath.string_at("$.registration.endpoint_config_name"),
        }
        if not deployment.serverless:
            update_parameters["DeploymentConfig"] = self._deployment_config(deployment)
        update_endpoint = self._sagemaker_call(
            "Update endpoint", "updateEndpoint", update_parameters, result_path=sfn.JsonPath.DISCARD
        )
        describe_endpoint = self._sagemaker_call(
            "Describe endpoint",
            "describeEndpoint",
            {"EndpointName": self._endpoint_name},
            result_selector={
                "status": sfn.JsonPath.string_at("$.EndpointStatus"),
                "endpoint_config_name": sfn.JsonPath.string_at("$.EndpointConfigName"),
            },
            result_path="$.endpoint",
        )
        create_endpoint.next(describe_endpoint)
        update_endpoint.next(describe_endpoint)
        wait_for_endpoint = sfn.Wait(
            self,
            "Wait for endpoint",
            time=sfn.WaitTime.duration(Duration.seconds(deployment.poll_interval_seconds)),
        )
        wait_for_endpoint.next(describe_endpoint)

        deployed = self._notify(
            "Notify deployed",
            f"Model version {{}} is serving on endpoint {self._endpoint_name} (endpoint config {{}}).",
            "$.registration.model_version",
            "$.registration.endpoint_config_name",
            subject="model deployed",
        ).next(
            self._record(
                "Record deployed",
                "deployed",
                sfn.JsonPath.format(
                    f"model version {{}} is serving on endpoint {self._endpoint_name}",
                    sfn.JsonPath.string_at("$.registration.model_version"),
                ),
            )
        ).next(sfn.Succeed(self, "Deployed"))
        rolled_back = self._notify(
            "Notify deployment rolled back",
            f"Deployment of model version {{}} was rolled back: endpoint {self._endpoint_name} "
            "still serves endpoint config {}.",
            "$.registration.model_version",
            "$.endpoint.endpoint_config_name",
            subject="deployment rolled back",
        ).next(
            sfn.Fail(
                self,
                "Deployment rolled back",
                error="DeploymentRolledBack",
                cause="The endpoint rolled back to its previous configuration",
            )
        )
        deployment_failed = self._notify(
            "Notify deployment failed",
            f"Deployment of model version {{}} failed: endpoint {self._endpoint_name} is {{}}.",
            "$.registration.model_version",
            "$.endpoint.status",
            subject="deployment failed",
        ).next(sfn.Fail(self, "Deployment failed", error="DeploymentFailed", cause="The endpoint failed"))

        describe_endpoint.next(
            sfn.Choice(self, "Endpoint ready?")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.string_equals("$.endpoint.status", "InService"),
                    sfn.Condition.string_equals_json_path(
                        "$.endpoint.endpoint_config_name", "$.registration.endpoint_config_name"
                    ),
                ),
                deployed,
            )
            .when(sfn.Condition.string_equals("$.endpoint.status", "InService"), rolled_back)
            .when(sfn.Condition.string_equals("$.endpoint.status", "Failed"), deployment_failed)
            .otherwise(wait_for_endpoint)
        )
        return (
            sfn.Chain.start(create_model)
            .next(create_endpoint_config)
            .next(find_endpoint)
            .next(match_endpoint)
            .next(
                sfn.Choice(self, "Endpoint exists?")
                .when(sfn.Condition.boolean_equals("$.existing_endpoints.exists", True), update_endpoint)
                .otherwise(create_endpoint)
            )
        )

    def _endpoint_config_parameters(self, deployment: DeploymentConfig) -> dict[str, object]:
        variant: dict[str, object] = {
            "VariantName": VARIANT_NAME,
            "ModelName": sfn.JsonPath.string_at("$.registration.model_name"),
        }
        parameters: dict[str, object] = {
            "EndpointConfigName": sfn.JsonPath.string_at("$.registration.endpoint_config_name"),
            "ProductionVariants": [variant],
        }
        if deployment.serverless:
            variant["ServerlessConfig"] = {
                "MemorySizeInMB": deployment.serverless_memory_mb,
                "MaxConcurrency": deployment.serverless_max_concurrency,
            }
            # Serverless endpoints support neither data capture nor a storage KMS key.
            return parameters
        variant["InstanceType"] = deployment.instance_type
        variant["InitialInstanceCount"] = deployment.initial_instance_count
        parameters["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": deployment.data_capture_percent,
            # SageMaker appends /<endpoint>/<variant>/yyyy/mm/dd/hh/ itself; a trailing slash
            # here would put an empty path segment into every capture key.
            "DestinationS3Uri": self._data_bucket.s3_url_for_object(s3_layout.CAPTURE_PREFIX.rstrip("/")),
            "KmsKeyId": self._key.key_arn,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {
                "CsvContentTypes": ["text/csv"],
                "JsonContentTypes": ["application/json"],
            },
        }
        parameters["KmsKeyId"] = self._key.key_arn
        return parameters

    def _deployment_config(self, deployment: DeploymentConfig) -> dict[str, object]:
        routing: dict[str, object] = {"WaitIntervalInSeconds": deployment.wait_interval_seconds}
        if deployment.strategy == "canary":
            routing["Type"] = "CANARY"
            routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": deployment.canary_percent}
        elif deployment.strategy == "linear":
            routing["Type"] = "LINEAR"
            routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": deployment.linear_step_percent}
        else:
            routing["Type"] = "ALL_AT_ONCE"
        return {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": routing,
                "TerminationWaitInSeconds": deployment.termination_wait_seconds,
                "MaximumExecutionTimeoutInSeconds": deployment.maximum_execution_timeout_seconds,
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in self._rollback_alarm_names]},
        }

    # -------------------------------------------------------------- state helpers

    def _invoke(
        self, name: str, function: lambda_.IFunction, payload: dict[str, object], result_path: str
    ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            name,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path=result_path,
            task_timeout=_lambda_task_timeout(function),
        )
        task.add_retry(
            errors=LAMBDA_RETRY_ERRORS,
            interval=LAMBDA_RETRY_INTERVAL,
            max_attempts=LAMBDA_RETRY_MAX_ATTEMPTS,
            backoff_rate=RETRY_BACKOFF_RATE,
        )
        self._catch_all(task)
        return task

    def _sagemaker_call(
        self,
        name: str,
        action: str,
        parameters: dict[str, object],
        *,
        result_path: str,
        result_selector: dict[str, object] | None = None,
        iam_action: str | None = None,
    ) -> tasks.CallAwsService:
        task = tasks.CallAwsService(
            self,
            name,
            service="sagemaker",
            action=action,
            iam_action=iam_action or f"sagemaker:{action[0].upper()}{action[1:]}",
            iam_resources=self._sagemaker_resources(action),
            parameters=parameters,
            result_selector=result_selector,
            result_path=result_path,
            task_timeout=sfn.Timeout.duration(SAGEMAKER_CALL_TIMEOUT),
        )
        task.add_retry(
            errors=SAGEMAKER_RETRY_ERRORS,
            interval=SAGEMAKER_RETRY_INTERVAL,
            max_attempts=SAGEMAKER_RETRY_MAX_ATTEMPTS,
            backoff_rate=RETRY_BACKOFF_RATE,
        )
        self._catch_all(task)
        return task

    def _notify(
        self, name: str, template: str, *paths: str, subject: str, catch: bool = True
    ) -> tasks.SnsPublish:
        arguments = [path if not path.startswith("$") else sfn.JsonPath.string_at(path) for path in paths]
        task = tasks.SnsPublish(
            self,
            name,
            topic=self._topic,
            subject=f"{self._project}: {subject}",
            message=sfn.TaskInput.from_text(sfn.JsonPath.format(template, *arguments)),
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(NOTIFY_TIMEOUT),
        )
        # A notification is safe to repeat; any failure is worth another try.
        task.add_retry(
            errors=["States.TaskFailed"],
            interval=NOTIFY_RETRY_INTERVAL,
            max_attempts=NOTIFY_RETRY_MAX_ATTEMPTS,
            backoff_rate=RETRY_BACKOFF_RATE,
        )
        if catch:
            self._catch_all(task)
        return task

    def _record(self, name: str, outcome: str, reason: str) -> sfn.Pass:
        return sfn.Pass(self, name, parameters={"outcome": outcome, "reason": reason}, result_path="$.result")

    def _catch_all(self, task: sfn.TaskStateBase) -> None:
        task.add_catch(self._notify_failure, errors=["States.ALL"], result_path="$.error")

    # ----------------------------------------------------------------- permissions

    @property
    def _training_job_arns(self) -> str:
        return sagemaker_arn(self, "training-job", project_pattern(self._project))

    def _sagemaker_resources(self, action: str) -> list[str]:
        endpoint = sagemaker_arn(self, "endpoint", self._endpoint_name.lower())
        endpoint_configs = sagemaker_arn(self, "endpoint-config", project_pattern(self._project))
        resources = {
            "describeTrainingJob": [self._training_job_arns],
            "createModel": [sagemaker_arn(self, "model", project_pattern(self._project))],
            "createEndpointConfig": [endpoint_configs],
            # ListEndpoints has no resource-level permissions.
            "listEndpoints": ["*"],
            "createEndpoint": [endpoint, endpoint_configs],
            "updateEndpoint": [endpoint, endpoint_configs],
            "describeEndpoint": [endpoint],
        }
        return resources[action]

    def _grant_role(self) -> None:
        role = self.role
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self._training.training_role.role_arn, self._training.model_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        grant_key_grants_for_sagemaker(role, self._key)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"], resources=[self._key.key_arn]
            )
        )
        # Blue/green updates watch these alarms to decide on automatic rollback.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:DescribeAlarms"],
                resources=[
                    Stack.of(self).format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name=name,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                    for name in self._rollback_alarm_names
                ],
            )
        )
        acknowledge_sagemaker_patterns(
            role,
            [
                self._training_job_arns,
                sagemaker_arn(self, "model", project_pattern(self._project)),
                sagemaker_arn(self, "endpoint-config", project_pattern(self._project)),
            ],
            f"Limited to the training jobs, models and endpoint configs the pipeline names with the "
            f"'{self._project}-' prefix; each name carries the dataset version and execution.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "sagemaker:ListEndpoints, X-Ray tracing and the CloudWatch Logs delivery actions of "
            "state machine logging have no resource-level permissions.",
            findings=["Resource::*"],
        )
        for function in (
            self._functions.validate,
            self._functions.evaluate,
            self._functions.register,
            self._functions.prepare_deployment,
        ):
            cfn_function = function.node.default_child
            assert isinstance(cfn_function, lambda_.CfnFunction)
            acknowledge(
                role,
                "AwsSolutions-IAM5",
                "Invoking the pipeline's own function, including its versions and aliases.",
                findings=[f"Resource::<{Stack.of(self).resolve(Stack.of(self).get_logical_id(cfn_function))}.Arn>:*"],
            )

