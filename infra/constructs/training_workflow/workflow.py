"""The training state machine: validate -> train -> evaluate -> register -> deploy, or, when
a person approves a version in the Model Registry, prepare deployment -> deploy.

State names, payloads and result paths are a contract with the Lambda handlers
(functions/common/contracts.py), the local runtime and the CLI; see the state document
below. SageMaker is called through `aws-sdk` integrations and waited on with
Describe -> Choice -> Wait loops (no `.sync`), so the same definition runs in the cloud and
in the local interpreter.

The champion/challenger decision and the deployment are one critical section per endpoint:
an execution acquires the deployment lock (infra/constructs/deployment_lock.py) right before
"Evaluate model" or "Prepare deployment", and releases it on every path that ends after that,
including the failure path (where it may not hold it). A conflicting execution reads the
lock's owner and waits while the owner is RUNNING; an owner that is not (timed out, aborted,
gone) is taken over. The lock belongs to an execution ARN, which a redriven execution keeps,
so re-acquiring one's own lock succeeds.

State document (JSONPath): the event that started the execution (S3 "Object Created", or
"SageMaker Model Package State Change" with source aws.sagemaker), plus by result path
`$.validation_job` (Plan validation job's ValidationJobPlan), `$.processing` (the validation
job's status), `$.validation`, `$.training`, `$.deployment_lock` (the lock item as read on a
conflict and its owner's status, or why a release on the failure path did not happen),
`$.evaluation`, `$.registration` (Register version's or Prepare deployment's result, the same
shape), `$.existing_endpoints`, `$.endpoint`, `$.error` (Catch) and `$.result` ({"outcome",
"reason"}, set right before each successful end).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Stack, aws_iam as iam, aws_kms as kms, aws_lambda as lambda_
from aws_cdk import aws_dynamodb as dynamodb, aws_logs as logs, aws_s3 as s3, aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks
from constructs import Construct

from functions.common import s3_layout
from functions.common.config import DeploymentConfig, PipelineConfig
from infra.constructs.deployment_lock import LOCK_ACQUIRED_AT_ATTRIBUTE, LOCK_OWNER_ATTRIBUTE, LOCK_PARTITION_KEY
from infra.constructs.nag import acknowledge, nag_text
from infra.constructs.permissions import (
    acknowledge_sagemaker_patterns,
    grant_key_grants_for_sagemaker,
    project_pattern,
    sagemaker_arn,
)
from infra.constructs.training import TrainingResources
from infra.constructs import validation_job as job_paths
from infra.constructs.validation_job import ValidationJobResources

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
# The DynamoDB integration names errors DynamoDB.<error code>; errors outside the API model
# arrive as DynamoDB.AmazonDynamoDBException.
DYNAMODB_RETRY_ERRORS = [
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.ThrottlingException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.InternalServerError",
    "DynamoDB.AmazonDynamoDBException",
]
LOCK_CONFLICT_ERROR = "DynamoDB.ConditionalCheckFailedException"
# DescribeExecution of an owner whose history has expired (90 days after it closed).
LOCK_OWNER_GONE_ERROR = "Sfn.ExecutionDoesNotExistException"
# Acquire and release both require the lock to be free or this execution's: an acquire that
# is retried or redriven finds its own item, a retried release finds none, and only another
# owner makes either fail.
LOCK_FREE_OR_OWN_CONDITION = f"attribute_not_exists({LOCK_PARTITION_KEY}) OR #owner = :execution"
LOCK_STALE_OWNER_CONDITION = "#owner = :stale_owner"
LOCK_CALL_TIMEOUT = Duration.minutes(1)
LOCK_RETRY_INTERVAL = Duration.seconds(2)
LOCK_RETRY_MAX_ATTEMPTS = 3
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
class SageMakerJobWait:
    """How the states that wait for one kind of SageMaker job are named and where they read."""

    step: str  # names the waiting and failure states: "Wait for training", "Training failed"
    job: str  # names the job in its Describe state and messages: "Describe training job"
    api: str  # the API's noun: describeTrainingJob, TrainingJobName, TrainingJobStatus
    name_path: str
    result_path: str
    poll_interval_seconds: int


@dataclass(frozen=True)
class WorkflowFunctions:
    validate: lambda_.IFunction
    evaluate: lambda_.IFunction
    register: lambda_.IFunction
    prepare_deployment: lambda_.IFunction


def _approval_event() -> sfn.Condition:
    # A Choice on a missing field fails the execution; an input without `source` is an upload.
    return sfn.Condition.and_(
        sfn.Condition.is_present("$.source"),
        sfn.Condition.string_equals("$.source", APPROVAL_EVENT_SOURCE),
    )


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
        validation_job: ValidationJobResources,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        topic: sns.ITopic,
        rollback_alarm_names: list[str],
        deployment_lock: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        if not ENDPOINT_NAME_PATTERN.match(config.deployment.endpoint_name):
            raise ValueError(f"invalid SageMaker endpoint name {config.deployment.endpoint_name!r}")
        self._config = config
        self._project = config.project
        self._endpoint_name = config.deployment.endpoint_name
        self._state_machine_name = f"{self._project}-training-pipeline"
        self._lock_table = deployment_lock
        self._functions = functions
        self._training = training
        self._validation_job = validation_job
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
        # Every failure releases the deployment lock first. An execution that does not hold it
        # fails the release's condition, which is caught: the failure is notified either way.
        self._release_after_failure = self._release_lock("Release deployment lock (pipeline failed)", catch=False)
        self._release_after_failure.add_catch(
            self._notify_failure, errors=["States.ALL"], result_path="$.deployment_lock"
        )
        self._release_after_failure.next(self._notify_failure)

        config_seconds = (
            config.validation.processing.max_runtime_seconds
            + config.training.max_runtime_seconds
            + config.deployment.maximum_execution_timeout_seconds
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=self._state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            comment=f"{self._project}: validate data, train, evaluate, register and deploy a model",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            role=self.role,
            timeout=Duration.seconds(config_seconds + STATE_MACHINE_TIME_MARGIN_SECONDS),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        self._grant_role()
        self._acknowledge_validation_job_names()

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
        model_rejected = self._release_lock("Release deployment lock (model rejected)").next(
            self._notify(
                "Notify model rejected",
                "Model from training job {} was rejected: {}",
                "$.validation.training_job_name",
                "$.evaluation.summary",
                subject="model rejected",
            )
        ).next(
            self._record("Record model rejected", "model_rejected", sfn.JsonPath.string_at("$.evaluation.summary"))
        ).next(sfn.Succeed(self, "Model rejected"))
        pending_approval = self._release_lock("Release deployment lock (pending approval)").next(
            self._notify(
                "Notify pending approval",
                "Model version {} ({}) is waiting for manual approval: {}",
                "$.registration.model_version",
                "$.registration.model_package_arn",
                "$.evaluation.summary",
                subject="model pending approval",
            )
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
        deployment_not_needed = self._release_lock("Release deployment lock (deployment not needed)").next(
            self._record("Record deployment not needed", "duplicate", sfn.JsonPath.string_at("$.registration.reason"))
        ).next(sfn.Succeed(self, "Deployment not needed"))
        acquire_lock = self._acquire_lock(
            sfn.Choice(self, "Approved version to deploy?")
            .when(_approval_event(), prepare_deployment)
            .otherwise(evaluate)
        )
        prepare_deployment.next(
            sfn.Choice(self, "Deployment needed?")
            .when(sfn.Condition.boolean_equals("$.registration.deploy", True), deploy)
            .otherwise(deployment_not_needed)
        )

        data_accepted = (
            sfn.Choice(self, "Data accepted?")
            .when(sfn.Condition.string_equals("$.validation.outcome", "duplicate"), duplicate)
            .when(sfn.Condition.string_equals("$.validation.outcome", "data_rejected"), data_rejected)
            .otherwise(start_training)
        )
        validate.next(data_accepted)
        limit_bytes = self._config.validation.max_lambda_file_bytes
        validation_route = (
            sfn.Choice(self, "Which validation route?")
            .when(
                # A Choice on a missing field fails the execution; without a size, the Lambda route decides.
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.detail.object.size"),
                    sfn.Condition.number_greater_than("$.detail.object.size", limit_bytes),
                ),
                self._validation_job_route(data_accepted),
            )
            .otherwise(validate)
        )
        self._wait_for_job(
            start_training,
            SageMakerJobWait(
                step="training",
                job="training job",
                api="TrainingJob",
                name_path="$.validation.training_job_name",
                result_path="$.training",
                poll_interval_seconds=self._config.training.poll_interval_seconds,
            ),
            completed=acquire_lock,
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
            .otherwise(
                self._release_lock("Release deployment lock (unexpected approval status)").next(self._pipeline_failed)
            )
        )
        return (
            sfn.Choice(self, "Which event?")
            .when(_approval_event(), acquire_lock)
            .otherwise(validation_route)
        )

    def _validation_job_route(self, data_accepted: sfn.Choice) -> sfn.IChainable:
        """An upload above validation.max_lambda_file_bytes: plan, a SageMaker Processing job that
        runs the same validation, then conclude, which leaves the result "Validate data" would
        leave in $.validation."""
        job = "$.validation_job"

        def job_request(mode: str) -> dict[str, object]:
            return {
                "mode": mode,
                "bucket": sfn.JsonPath.string_at("$.detail.bucket.name"),
                "key": sfn.JsonPath.string_at("$.detail.object.key"),
                "execution_arn": sfn.JsonPath.string_at("$$.Execution.Id"),
                "execution_name": sfn.JsonPath.string_at("$$.Execution.Name"),
            }

        plan = self._invoke("Plan validation job", self._functions.validate, job_request("plan"), job)
        # The upload is gone: the plan carries the rejection the Lambda route gives.
        take_planning_result = sfn.Pass(
            self, "Take planning result", input_path=f"{job}.result", result_path="$.validation"
        )
        start_job = self._start_validation_job()
        conclude = self._invoke("Conclude validation job", self._functions.validate, job_request("conclude"), "$.validation")

        plan.next(
            sfn.Choice(self, "Validation job needed?")
            .when(sfn.Condition.is_not_null(f"{job}.result"), take_planning_result)
            .otherwise(start_job)
        )
        take_planning_result.next(data_accepted)
        self._wait_for_job(
            start_job,
            SageMakerJobWait(
                step="validation job",
                job="validation job",
                api="ProcessingJob",
                name_path=f"{job}.job_name",
                result_path="$.processing",
                poll_interval_seconds=self._config.validation.processing.poll_interval_seconds,
            ),
            completed=conclude,
        )
        conclude.next(data_accepted)
        return plan

    def _wait_for_job(self, start: tasks.CallAwsService, wait: SageMakerJobWait, *, completed: sfn.IChainable) -> None:
        """After `start`: Describe -> Choice -> Wait until the job ends; Completed goes on to
        `completed`, Failed and Stopped notify and fail the execution."""
        status = f"{wait.result_path}.status"
        name = {f"{wait.api}Name": sfn.JsonPath.string_at(wait.name_path)}
        describe_action = f"describe{wait.api}"
        describe = self._sagemaker_call(
            f"Describe {wait.job}",
            describe_action,
            name,
            result_selector={"status": sfn.JsonPath.string_at(f"$.{wait.api}Status")},
            result_path=wait.result_path,
        )
        # A redriven execution finds its job already created: describe it instead. The error
        # lands in the result path, which the describe overwrites.
        start.add_catch(describe, errors=[TRAINING_JOB_EXISTS_ERROR], result_path=wait.result_path)
        self._catch_all(start)
        notify_failed = self._notify(
            f"Notify {wait.step} failed",
            f"{wait.job.capitalize()} {{}} did not complete: {{}}",
            wait.name_path,
            sfn.JsonPath.json_to_string(sfn.JsonPath.object_at(wait.result_path)),
            subject=f"{wait.step} failed",
        ).next(
            sfn.Fail(
                self,
                f"{wait.step.capitalize()} failed",
                error=f"{wait.step.title().replace(' ', '')}Failed",
                cause=f"The {wait.job} did not complete",
            )
        )
        describe_failure = self._sagemaker_call(
            f"Describe {wait.step} failure",
            describe_action,
            name,
            result_selector={
                "status": sfn.JsonPath.string_at(f"$.{wait.api}Status"),
                "reason": sfn.JsonPath.string_at("$.FailureReason"),
            },
            result_path=wait.result_path,
            iam_action=f"sagemaker:Describe{wait.api}",
        )
        describe_failure.next(notify_failed)
        wait_for_job = sfn.Wait(
            self, f"Wait for {wait.step}", time=sfn.WaitTime.duration(Duration.seconds(wait.poll_interval_seconds))
        )
        wait_for_job.next(describe)
        start.next(describe)
        describe.next(
            sfn.Choice(self, f"{wait.step.capitalize()} finished?")
            .when(sfn.Condition.string_equals(status, "Completed"), completed)
            .when(sfn.Condition.string_equals(status, "Failed"), describe_failure)
            .when(sfn.Condition.string_equals(status, "Stopped"), notify_failed)
            .otherwise(wait_for_job)
        )

    def _start_validation_job(self) -> tasks.CallAwsService:
        job = self._validation_job
        settings = self._config.validation.processing

        def s3_input(name: str, uri: str, local_path: str, data_type: str) -> dict[str, object]:
            return {
                "InputName": name,
                "S3Input": {
                    "S3Uri": uri,
                    "LocalPath": local_path,
                    "S3DataType": data_type,
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                },
            }

        return tasks.CallAwsService(
            self,
            "Start validation job",
            service="sagemaker",
            action="createProcessingJob",
            iam_action="sagemaker:CreateProcessingJob",
            iam_resources=[self._processing_job_arns],
            parameters={
                "ProcessingJobName": sfn.JsonPath.string_at("$.validation_job.job_name"),
                "RoleArn": job.role.role_arn,
                "AppSpecification": {
                    "ImageUri": job.image_uri,
                    "ContainerEntrypoint": job.entrypoint,
                    "ContainerArguments": job.arguments,
                },
                "ProcessingInputs": [
                    s3_input("code", job.code_bundle_uri, job_paths.CODE_DIR, "S3Prefix"),
                    s3_input(
                        "plan", sfn.JsonPath.string_at("$.validation_job.plan_uri"), job_paths.PLAN_DIR, "S3Prefix"
                    ),
                    # The manifest names exactly the uploaded object.
                    s3_input(
                        "data",
                        sfn.JsonPath.string_at("$.validation_job.source_manifest_uri"),
                        job_paths.DATA_DIR,
                        "ManifestFile",
                    ),
                ],
                "ProcessingOutputConfig": {
                    "Outputs": [
                        {
                            "OutputName": "validation",
                            "S3Output": {
                                "S3Uri": sfn.JsonPath.string_at("$.validation_job.output_uri"),
                                "LocalPath": job_paths.OUTPUT_DIR,
                                "S3UploadMode": "EndOfJob",
                            },
                        }
                    ],
                    "KmsKeyId": self._key.key_arn,
                },
                "ProcessingResources": {
                    "ClusterConfig": {
                        "InstanceCount": settings.instance_count,
                        "InstanceType": settings.instance_type,
                        "VolumeSizeInGB": settings.volume_size_gb,
                        "VolumeKmsKeyId": self._key.key_arn,
                    }
                },
                "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_runtime_seconds},
                # The job only reads its inputs and writes its output, which SageMaker moves.
                "NetworkConfig": {"EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True},
            },
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(SAGEMAKER_CALL_TIMEOUT),
        ).add_retry(
            errors=SAGEMAKER_RETRY_ERRORS,
            interval=SAGEMAKER_RETRY_INTERVAL,
            max_attempts=SAGEMAKER_RETRY_MAX_ATTEMPTS,
            backoff_rate=RETRY_BACKOFF_RATE,
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
                self._release_lock("Release deployment lock (deployed)").next(deployed),
            )
            .when(
                sfn.Condition.string_equals("$.endpoint.status", "InService"),
                self._release_lock("Release deployment lock (rolled back)").next(rolled_back),
            )
            .when(
                sfn.Condition.string_equals("$.endpoint.status", "Failed"),
                self._release_lock("Release deployment lock (deployment failed)").next(deployment_failed),
            )
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

    # ------------------------------------------------------------ deployment lock

    def _acquire_lock(self, holding: sfn.IChainable) -> sfn.IChainable:
        """Acquire the endpoint's deployment lock, then continue with `holding`.

        A conflict reads the item and describes its owner: a RUNNING owner is waited for, any
        other (or one whose history has expired) is taken over with a put conditioned on that
        owner, so of several executions seeing the same stale owner exactly one takes over.
        """
        acquire = self._put_lock(
            "Acquire deployment lock",
            LOCK_FREE_OR_OWN_CONDITION,
            {":execution": sfn.JsonPath.string_at("$$.Execution.Id")},
        )
        read_lock = tasks.DynamoGetItem(
            self,
            "Read deployment lock",
            table=self._lock_table,
            key=self._lock_key(),
            consistent_read=True,
            result_path="$.deployment_lock",
            task_timeout=sfn.Timeout.duration(LOCK_CALL_TIMEOUT),
        )
        self._retry_lock_call(read_lock)
        self._catch_all(read_lock)
        describe_owner = tasks.CallAwsService(
            self,
            "Describe lock owner",
            service="sfn",
            action="describeExecution",
            iam_action="states:DescribeExecution",
            iam_resources=[self._execution_arns],
            parameters={"ExecutionArn": sfn.JsonPath.string_at(f"$.deployment_lock.Item.{LOCK_OWNER_ATTRIBUTE}.S")},
            # aws-sdk results are PascalCase whatever the API's casing.
            result_selector={"status": sfn.JsonPath.string_at("$.Status")},
            result_path="$.deployment_lock.owner",
            task_timeout=sfn.Timeout.duration(LOCK_CALL_TIMEOUT),
        )
        # A missing owner is an answer, not a fault: it goes straight to the take-over.
        describe_owner.add_retry(errors=[LOCK_OWNER_GONE_ERROR], max_attempts=0)
        # A read is safe to repeat; any other failure is worth another try.
        describe_owner.add_retry(
            errors=["States.TaskFailed"],
            interval=LOCK_RETRY_INTERVAL,
            max_attempts=LOCK_RETRY_MAX_ATTEMPTS,
            backoff_rate=RETRY_BACKOFF_RATE,
        )
        take_over = self._put_lock(
            "Take over deployment lock",
            LOCK_STALE_OWNER_CONDITION,
            {":stale_owner": sfn.JsonPath.string_at(f"$.deployment_lock.Item.{LOCK_OWNER_ATTRIBUTE}.S")},
        )
        describe_owner.add_catch(take_over, errors=[LOCK_OWNER_GONE_ERROR], result_path="$.deployment_lock.owner")
        self._catch_all(describe_owner)
        wait_for_lock = sfn.Wait(
            self,
            "Wait for deployment lock",
            time=sfn.WaitTime.duration(Duration.seconds(self._config.deployment.poll_interval_seconds)),
        )

        acquire.add_catch(read_lock, errors=[LOCK_CONFLICT_ERROR], result_path="$.deployment_lock")
        # Another execution took over first, or the owner released meanwhile: start again.
        take_over.add_catch(acquire, errors=[LOCK_CONFLICT_ERROR], result_path="$.deployment_lock")
        for task in (acquire, take_over):
            self._catch_all(task)
            task.next(holding)
        read_lock.next(
            sfn.Choice(self, "Lock still held?")
            .when(sfn.Condition.is_present("$.deployment_lock.Item"), describe_owner)
            # Released between the failed put and the read.
            .otherwise(acquire)
        )
        describe_owner.next(
            sfn.Choice(self, "Lock owner running?")
            .when(sfn.Condition.string_equals("$.deployment_lock.owner.status", "RUNNING"), wait_for_lock)
            .otherwise(take_over)
        )
        wait_for_lock.next(acquire)
        return acquire

    def _put_lock(self, name: str, condition: str, values: dict[str, str]) -> tasks.DynamoPutItem:
        task = tasks.DynamoPutItem(
            self,
            name,
            table=self._lock_table,
            item={
                **self._lock_key(),
                LOCK_OWNER_ATTRIBUTE: tasks.DynamoAttributeValue.from_string(
                    sfn.JsonPath.string_at("$$.Execution.Id")
                ),
                LOCK_ACQUIRED_AT_ATTRIBUTE: tasks.DynamoAttributeValue.from_string(
                    sfn.JsonPath.string_at("$$.State.EnteredTime")
                ),
            },
            condition_expression=condition,
            expression_attribute_names={"#owner": LOCK_OWNER_ATTRIBUTE},
            expression_attribute_values={
                placeholder: tasks.DynamoAttributeValue.from_string(value) for placeholder, value in values.items()
            },
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(LOCK_CALL_TIMEOUT),
        )
        self._retry_lock_call(task)
        return task

    def _release_lock(self, name: str, *, catch: bool = True) -> tasks.DynamoDeleteItem:
        """Delete the lock item unless another execution owns it."""
        task = tasks.DynamoDeleteItem(
            self,
            name,
            table=self._lock_table,
            key=self._lock_key(),
            condition_expression=LOCK_FREE_OR_OWN_CONDITION,
            expression_attribute_names={"#owner": LOCK_OWNER_ATTRIBUTE},
            expression_attribute_values={
                ":execution": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$$.Execution.Id"))
            },
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(LOCK_CALL_TIMEOUT),
        )
        self._retry_lock_call(task)
        if catch:
            self._catch_all(task)
        return task

    def _lock_key(self) -> dict[str, tasks.DynamoAttributeValue]:
        return {LOCK_PARTITION_KEY: tasks.DynamoAttributeValue.from_string(self._endpoint_name)}

    @staticmethod
    def _retry_lock_call(task: sfn.TaskStateBase) -> None:
        task.add_retry(
            errors=DYNAMODB_RETRY_ERRORS,
            interval=LOCK_RETRY_INTERVAL,
            max_attempts=LOCK_RETRY_MAX_ATTEMPTS,
            backoff_rate=RETRY_BACKOFF_RATE,
        )

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
        task.add_catch(self._release_after_failure, errors=["States.ALL"], result_path="$.error")

    # ----------------------------------------------------------------- permissions

    @property
    def _execution_arns(self) -> str:
        # The state machine's own name, not its ARN attribute: the role must not depend on the
        # state machine that uses it.
        return Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self._state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    @property
    def _training_job_arns(self) -> str:
        return sagemaker_arn(self, "training-job", project_pattern(self._project))

    @property
    def _processing_job_arns(self) -> str:
        return sagemaker_arn(self, "processing-job", project_pattern(self._project))

    def _sagemaker_resources(self, action: str) -> list[str]:
        endpoint = sagemaker_arn(self, "endpoint", self._endpoint_name.lower())
        endpoint_configs = sagemaker_arn(self, "endpoint-config", project_pattern(self._project))
        resources = {
            "describeTrainingJob": [self._training_job_arns],
            "describeProcessingJob": [self._processing_job_arns],
            "createModel": [sagemaker_arn(self, "model", project_pattern(self._project))],
            "createEndpointConfig": [endpoint_configs],
            # ListEndpoints has no resource-level permissions.
            "listEndpoints": ["*"],
            "createEndpoint": [endpoint, endpoint_configs],
            "updateEndpoint": [endpoint, endpoint_configs],
            "describeEndpoint": [endpoint],
        }
        return resources[action]

    def _acknowledge_validation_job_names(self) -> None:
        acknowledge_sagemaker_patterns(
            self.role,
            [self._processing_job_arns],
            f"Limited to the validation jobs the pipeline names with the '{self._project}-' prefix; "
            "each name carries the execution it validates for.",
        )

    def _grant_role(self) -> None:
        role = self.role
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[
                    self._training.training_role.role_arn,
                    self._training.model_role.role_arn,
                    self._validation_job.role.role_arn,
                ],
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
            "DescribeExecution of the deployment lock's owner, which is an execution of this state "
            "machine whose name is only known at run time.",
            findings=[f"Resource::{nag_text(role, self._execution_arns)}"],
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

