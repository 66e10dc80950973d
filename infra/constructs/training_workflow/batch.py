"""Scoring a file uploaded under batch/: validate it without the target and choose the model
version ("Validate batch"; above validation.max_lambda_file_bytes the validation job checks the
file and "Conclude batch validation" takes its outcome), create that version's SageMaker model,
run a Batch Transform job over the rows, then join the predictions to the rows and delete the
model ("Conclude batch"). Batch scoring does not take the deployment lock: it changes nothing the
gate or a deployment reads, and a transform job can run for hours. Its outcome is `scored`,
`data_rejected` or `failed`."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam, aws_kms as kms, aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks
from constructs import Construct

from functions.common.batch_layout import BATCH_PREFIX
from functions.common.config import BatchConfig, ValidationConfig
from functions.common.outcome import Outcome
from infra.constructs.training_workflow.lock import DeploymentLockStates
from infra.constructs.training_workflow.states import Exit, SageMakerJobWait, WorkflowStates
from infra.constructs.training_workflow.validation import (
    processing_input,
    processing_job_wait,
    processing_output,
    start_processing_job,
    start_validation_job,
    upload_request,
)
from infra.constructs import validation_job as job_paths
from infra.constructs.validation_job import ValidationJobResources

PLAN_PATH = "$.batch"
RESULT_PATH = "$.batch_result"
# The rows the validate function writes are CSV lines; the serving code answers JSON on one line
# per request, which keeps the classes beside the probabilities.
TRANSFORM_CONTENT_TYPE = "text/csv"
TRANSFORM_ACCEPT = "application/json"


def batch_upload() -> sfn.Condition:
    # A Choice on a missing field fails the execution: an approval event has no object key.
    return sfn.Condition.and_(
        sfn.Condition.is_present("$.detail.object.key"),
        sfn.Condition.string_matches("$.detail.object.key", f"{BATCH_PREFIX}*"),
    )


def score_batch(
    scope: Construct,
    states: WorkflowStates,
    *,
    config: BatchConfig,
    validation: ValidationConfig,
    validate: lambda_.IFunction,
    validation_job: ValidationJobResources,
    model_role: iam.IRole,
    key: kms.IKey,
    after: Sequence[Exit],
) -> None:
    plan = states.invoke("Validate batch", validate, {"mode": "batch", **upload_request()}, PLAN_PATH)
    for leads_here in after:
        leads_here(plan)
    rejected = states.notify(
        "Notify batch rejected",
        "Batch rejected: {} ({}). A copy is kept in {}.",
        f"{PLAN_PATH}.source_uri",
        f"{PLAN_PATH}.reason",
        f"{PLAN_PATH}.quarantine_uri",
        subject="batch rejected",
    )
    rejected.next(
        states.record("Record batch rejected", Outcome.DATA_REJECTED, sfn.JsonPath.string_at(f"{PLAN_PATH}.reason"))
    ).next(sfn.Succeed(scope, "Batch rejected"))
    no_model = states.notify(
        "Notify batch not scored",
        "Batch not scored: {} ({}).",
        f"{PLAN_PATH}.source_uri",
        f"{PLAN_PATH}.reason",
        subject="batch failed",
    )
    no_model.next(sfn.Fail(scope, "Batch not scored", error="BatchNotScored", cause="No model version can score the file"))
    create_model = states.sagemaker_call(
        "Create batch model",
        "createModel",
        {
            "ModelName": sfn.JsonPath.string_at(f"{PLAN_PATH}.model.model_name"),
            "ExecutionRoleArn": model_role.role_arn,
            "PrimaryContainer": {
                "Image": sfn.JsonPath.string_at(f"{PLAN_PATH}.model.image_uri"),
                "ModelDataUrl": sfn.JsonPath.string_at(f"{PLAN_PATH}.model.model_data_url"),
                "Environment": sfn.JsonPath.object_at(f"{PLAN_PATH}.model.environment"),
            },
            # The same container, code and isolation as the endpoint's model.
            "EnableNetworkIsolation": True,
        },
        result_path=sfn.JsonPath.DISCARD,
    )
    start_validation, validation_concluded = _validation_job(
        states, config=validation, validate=validate, job=validation_job, key=key
    )
    batch_accepted = (
        sfn.Choice(scope, "Batch accepted?")
        .when(sfn.Condition.string_equals(f"{PLAN_PATH}.outcome", "data_rejected"), rejected)
        .when(sfn.Condition.string_equals(f"{PLAN_PATH}.outcome", "failed"), no_model)
        .when(sfn.Condition.string_equals(f"{PLAN_PATH}.outcome", "validate_in_job"), start_validation)
        .otherwise(create_model)
    )
    plan.next(batch_accepted)
    validation_concluded.next(batch_accepted)
    start_job = _start_transform_job(states, config=config, key=key)
    create_model.next(start_job)
    job_completed = _completed_or_recorded_failed(
        states,
        validate,
        start_job,
        "Record batch failure",
        SageMakerJobWait(
            step="batch transform",
            job="transform job",
            api="TransformJob",
            name_path=f"{PLAN_PATH}.transform_job_name",
            result_path="$.transform",
            poll_interval_seconds=config.poll_interval_seconds,
        ),
    )
    conclude = states.invoke(
        "Conclude batch",
        validate,
        {"mode": "batch_conclude", **upload_request(), "plan": sfn.JsonPath.object_at(PLAN_PATH)},
        RESULT_PATH,
    )
    join_job = f"{PLAN_PATH}.join_job"
    join_in_job = _join_job(states, validation_job=validation_job, validate=validate, config=validation, key=key)
    join_in_job(conclude)
    job_completed(
        sfn.Choice(scope, "Join in a job?")
        .when(
            sfn.Condition.and_(sfn.Condition.is_present(join_job), sfn.Condition.is_not_null(join_job)),
            join_in_job.start,
        )
        .otherwise(conclude)
    )
    conclude.next(
        states.notify(
            "Notify batch scored",
            "Batch scored: {}. {}. Predictions: {}",
            f"{PLAN_PATH}.source_uri",
            f"{RESULT_PATH}.reason",
            f"{RESULT_PATH}.predictions_uri",
            subject="batch scored",
        )
    ).next(
        states.record("Record batch scored", Outcome.SCORED, sfn.JsonPath.string_at(f"{RESULT_PATH}.reason"))
    ).next(sfn.Succeed(scope, "Scored"))


class _JoinJob:
    def __init__(self, start: tasks.CallAwsService, completed: Exit) -> None:
        self.start = start
        self._completed = completed

    def __call__(self, then: sfn.IChainable) -> None:
        self._completed(then)


def _join_job(
    states: WorkflowStates,
    *,
    validation_job: ValidationJobResources,
    validate: lambda_.IFunction,
    config: ValidationConfig,
    key: kms.IKey,
) -> _JoinJob:
    """A file the validation job checked is joined to its predictions by that job's image
    (processing_job.py --join), so no step that scores it is bounded by the function's memory or
    15 minutes. The function then only reads the join's summary."""
    join_job = f"{PLAN_PATH}.join_job"

    def s3_uri(field: str) -> str:
        return sfn.JsonPath.string_at(f"{join_job}.{field}")

    start = start_processing_job(
        states,
        "Start join job",
        job_name=s3_uri("job_name"),
        arguments=validation_job.join_arguments,
        inputs=[
            processing_input("code", validation_job.code_bundle_uri, job_paths.CODE_DIR),
            processing_input("plan", s3_uri("plan_uri"), job_paths.JOIN_PLAN_DIR),
            processing_input("rows", s3_uri("rows_uri"), job_paths.JOIN_ROWS_DIR),
            processing_input("answers", s3_uri("answers_uri"), job_paths.JOIN_ANSWERS_DIR),
        ],
        outputs=[
            processing_output("predictions", s3_uri("predictions_uri"), job_paths.JOIN_PREDICTIONS_DIR),
            processing_output("summary", s3_uri("summary_uri"), job_paths.JOIN_SUMMARY_DIR),
        ],
        # One file joined in order: one instance.
        instance_count=1,
        config=config,
        job=validation_job,
        key=key,
    )
    completed = _completed_or_recorded_failed(
        states,
        validate,
        start,
        "Record batch join failure",
        processing_job_wait("batch join job", f"{join_job}.job_name", config),
    )
    return _JoinJob(start, completed)


def _validation_job(
    states: WorkflowStates,
    *,
    config: ValidationConfig,
    validate: lambda_.IFunction,
    job: ValidationJobResources,
    key: kms.IKey,
) -> tuple[sfn.IChainable, tasks.LambdaInvoke]:
    """A file above validation.max_lambda_file_bytes: the validation job of large training
    uploads checks it as a file to score, then "Conclude batch validation" leaves in $.batch what
    "Validate batch" leaves for a smaller file, and "Batch accepted?" decides again."""
    job_plan = f"{PLAN_PATH}.validation_job"
    start_job = start_validation_job(states, "Start batch validation job", job_plan, config=config, job=job, key=key)
    job_completed = _completed_or_recorded_failed(
        states,
        validate,
        start_job,
        "Record batch validation failure",
        processing_job_wait("batch validation job", f"{job_plan}.job_name", config),
    )
    concluded = states.invoke(
        "Conclude batch validation",
        validate,
        {"mode": "batch_validation_concluded", **upload_request(), "plan": sfn.JsonPath.object_at(PLAN_PATH)},
        PLAN_PATH,
    )
    job_completed(concluded)
    return start_job, concluded


def _start_transform_job(states: WorkflowStates, *, config: BatchConfig, key: kms.IKey) -> tasks.CallAwsService:
    """CreateTransformJob (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html):
    SplitType Line with BatchStrategy MultiRecord cuts the file into mini-batches of whole lines up
    to MaxPayloadInMB, so a file of any size S3 holds is scored in requests the container takes;
    AssembleWith Line writes one answer per mini-batch, in order."""
    return states.sagemaker_call(
        "Start transform job",
        "createTransformJob",
        {
            "TransformJobName": sfn.JsonPath.string_at(f"{PLAN_PATH}.transform_job_name"),
            "ModelName": sfn.JsonPath.string_at(f"{PLAN_PATH}.model.model_name"),
            "BatchStrategy": "MultiRecord",
            "MaxPayloadInMB": config.max_payload_mb,
            "MaxConcurrentTransforms": config.max_concurrent_transforms,
            "ModelClientConfig": {"InvocationsTimeoutInSeconds": config.invocation_timeout_seconds},
            "TransformInput": {
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": sfn.JsonPath.string_at(f"{PLAN_PATH}.input_uri")}
                },
                "ContentType": TRANSFORM_CONTENT_TYPE,
                "SplitType": "Line",
                "CompressionType": "None",
            },
            "TransformOutput": {
                "S3OutputPath": sfn.JsonPath.string_at(f"{PLAN_PATH}.output_uri"),
                "Accept": TRANSFORM_ACCEPT,
                "AssembleWith": "Line",
                "KmsKeyId": key.key_arn,
            },
            "TransformResources": {
                "InstanceType": config.instance_type,
                "InstanceCount": config.instance_count,
                "VolumeKmsKeyId": key.key_arn,
            },
        },
        result_path=sfn.JsonPath.DISCARD,
    )


def record_batch_model(scope: Construct, states: WorkflowStates, lock: DeploymentLockStates, *, after: Sequence[Exit]) -> None:
    """deployment.mode batch_only: an approved version is not deployed to an endpoint (there is
    none); it becomes the version batch uploads are scored with (the newest approved one)."""
    release = lock.release("Release deployment lock (batch model)")
    for leads_here in after:
        leads_here(release)
    release.next(
        states.notify(
            "Notify batch model",
            "Model version {} ({}) now scores batch uploads; no endpoint is deployed (deployment.mode batch_only).",
            "$.registration.model_version",
            "$.registration.model_package_arn",
            subject="batch model",
        )
    ).next(
        states.record(
            "Record batch model",
            Outcome.DEPLOYED,
            sfn.JsonPath.format(
                "model version {} scores batch uploads (deployment.mode batch_only: no endpoint)",
                sfn.JsonPath.string_at("$.registration.model_version"),
            ),
        )
    ).next(sfn.Succeed(scope, "Batch model"))


def _completed_or_recorded_failed(
    states: WorkflowStates,
    validate: lambda_.IFunction,
    start: tasks.CallAwsService,
    failure_state: str,
    wait: SageMakerJobWait,
) -> Exit:
    """Waits for the job `start` started; a job that fails, stops or cannot start ends the batch
    as failed ("batch_failed" deletes its model and records the job's reason)."""
    job_field = wait.result_path.removeprefix("$.")
    record_failure = states.invoke(
        failure_state,
        validate,
        {
            "mode": "batch_failed",
            **upload_request(),
            "plan": sfn.JsonPath.object_at(PLAN_PATH),
            job_field: sfn.JsonPath.object_at(wait.result_path),
        },
        RESULT_PATH,
    )
    return states.wait_for_job([start], wait, release_lock=record_failure)
