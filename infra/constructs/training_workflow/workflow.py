"""The training state machine, phase by phase in the order an execution runs them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial

from aws_cdk import Duration, aws_dynamodb as dynamodb, aws_iam as iam, aws_kms as kms, aws_lambda as lambda_
from aws_cdk import aws_logs as logs, aws_s3 as s3, aws_sns as sns, aws_stepfunctions as sfn
from constructs import Construct

from functions.common.config import PipelineConfig
from infra.constructs.training import TrainingResources
from infra.constructs.training_workflow.approval import prepare_deployment
from infra.constructs.training_workflow.batch import batch_upload, record_batch_model, score_batch
from infra.constructs.training_workflow.decision import decide
from infra.constructs.training_workflow.deployment import deploy
from infra.constructs.training_workflow.failure_path import fail_pipeline
from infra.constructs.training_workflow.lock import DeploymentLockStates
from infra.constructs.training_workflow.permissions import WorkflowArns, grant_workflow_role
from infra.constructs.training_workflow.states import WorkflowStates, approval_event
from infra.constructs.training_workflow.training import train
from infra.constructs.training_workflow.validation import validate_upload
from infra.constructs.validation_job import ValidationJobResources

# Added to training and deployment time limits for the Lambda steps, polling and retries.
STATE_MACHINE_TIME_MARGIN_SECONDS = 3 * 3600
LOG_RETENTION = logs.RetentionDays.SIX_MONTHS
ENDPOINT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


@dataclass(frozen=True)
class WorkflowFunctions:
    validate: lambda_.IFunction
    evaluate: lambda_.IFunction
    register: lambda_.IFunction
    prepare_deployment: lambda_.IFunction


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
        self._functions = functions
        self._training = training
        self._validation_job = validation_job
        self._data_bucket = data_bucket
        self._artifacts_bucket = artifacts_bucket
        self._key = encryption_key
        self._rollback_alarm_names = rollback_alarm_names
        state_machine_name = f"{config.project}-training-pipeline"
        arns = WorkflowArns(
            scope=self,
            project=config.project,
            endpoint_name=config.deployment.endpoint_name,
            state_machine_name=state_machine_name,
        )
        self._states = WorkflowStates(self, project=config.project, topic=topic, arns=arns)
        self._lock = DeploymentLockStates(
            self,
            self._states,
            table=deployment_lock,
            endpoint_name=config.deployment.endpoint_name,
            execution_arns=arns.executions,
            poll_interval_seconds=config.deployment.poll_interval_seconds,
        )

        self.log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION, encryption_key=encryption_key)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=f"Runs the {config.project} training state machine",
        )
        config_seconds = max(
            config.validation.processing.max_runtime_seconds
            + config.training.max_runtime_seconds
            + config.deployment.maximum_execution_timeout_seconds,
            config.batch.max_runtime_seconds,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            comment=f"{config.project}: validate data, train, evaluate, register and deploy a model",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            role=self.role,
            timeout=Duration.seconds(config_seconds + STATE_MACHINE_TIME_MARGIN_SECONDS),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        grant_workflow_role(
            self.role,
            arns=arns,
            passed_roles=[training.training_role, training.model_role, validation_job.role],
            key=encryption_key,
            rollback_alarm_names=rollback_alarm_names,
            functions=[functions.validate, functions.evaluate, functions.register, functions.prepare_deployment],
        )

    def _definition(self) -> sfn.IChainable:
        """One call per phase, in the order an execution runs them. Each phase is led into by
        the open branches (`after`) of the phases before it and returns its own."""
        config, functions, states, lock = self._config, self._functions, self._states, self._lock
        # The lock is taken first: uploads that race are validated, trained and judged one at a
        # time against the version serving, so none skips the drift check or the gate's
        # comparison with the version it would replace.
        start: list[sfn.IChainable] = []
        batch_or_lock = sfn.Choice(self, "Batch upload?")
        start.append(batch_or_lock)
        score_batch(
            self,
            states,
            config=config.batch,
            validation=config.validation,
            validate=functions.validate,
            validation_job=self._validation_job,
            model_role=self._training.model_role,
            key=self._key,
            after=[partial(batch_or_lock.when, batch_upload())],
        )
        holding_lock = lock.acquire(after=[batch_or_lock.otherwise])
        which_event = sfn.Choice(self, "Which event?")
        holding_lock(which_event)
        data_accepted = validate_upload(
            self,
            states,
            lock,
            config=config.validation,
            validate=functions.validate,
            job=self._validation_job,
            key=self._key,
            after=[which_event.otherwise],
        )
        training_completed = train(
            self,
            states,
            lock,
            config=config.training,
            dataset=config.dataset,
            training=self._training,
            artifacts_bucket=self._artifacts_bucket,
            key=self._key,
            after=[data_accepted],
        )
        decided = decide(
            self,
            states,
            lock,
            evaluate=functions.evaluate,
            register=functions.register,
            after=[training_completed, partial(which_event.when, approval_event())],
        )
        deployment_needed = prepare_deployment(
            self, states, lock, prepare=functions.prepare_deployment, after=[decided.approved_version_to_deploy]
        )
        if config.deployment.mode == "batch_only":
            record_batch_model(self, states, lock, after=[decided.approved, deployment_needed])
        else:
            deploy(
                self,
                states,
                lock,
                config=config.deployment,
                model_role=self._training.model_role,
                data_bucket=self._data_bucket,
                key=self._key,
                rollback_alarm_names=self._rollback_alarm_names,
                after=[decided.approved, deployment_needed],
            )
        fail_pipeline(self, states, lock, after=[decided.unexpected_approval_status])
        return start[0]
