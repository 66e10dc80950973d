"""Scoring a file uploaded under batch/: validate it without the target and choose the model
version ("Validate batch"), create that version's SageMaker model, run a Batch Transform job over
the rows, then join the predictions to the rows ("Conclude batch"). Batch scoring does not take
the deployment lock: it changes nothing the gate or a deployment reads, and a transform job can
run for hours. Its outcome is `scored`, `data_rejected` or `failed`."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam, aws_kms as kms, aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks
from constructs import Construct

from functions.common.batch_layout import BATCH_PREFIX
from functions.common.config import BatchConfig
from functions.common.outcome import Outcome
from infra.constructs.training_workflow.lock import DeploymentLockStates
from infra.constructs.training_workflow.states import Exit, SageMakerJobWait, WorkflowStates
from infra.constructs.training_workflow.validation import upload_request

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
    validate: lambda_.IFunction,
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
    plan.next(
        sfn.Choice(scope, "Batch accepted?")
        .when(sfn.Condition.string_equals(f"{PLAN_PATH}.outcome", "data_rejected"), rejected)
        .when(sfn.Condition.string_equals(f"{PLAN_PATH}.outcome", "failed"), no_model)
        .otherwise(create_model)
    )
    start_job = _start_transform_job(states, config=config, key=key)
    create_model.next(start_job)
    record_failure = states.invoke(
        "Record batch failure",
        validate,
        {
            "mode": "batch_failed",
            **upload_request(),
            "plan": sfn.JsonPath.object_at(PLAN_PATH),
            "transform": sfn.JsonPath.object_at("$.transform"),
        },
        RESULT_PATH,
    )
    job_completed = states.wait_for_job(
        [start_job],
        SageMakerJobWait(
            step="batch transform",
            job="transform job",
            api="TransformJob",
            name_path=f"{PLAN_PATH}.transform_job_name",
            result_path="$.transform",
            poll_interval_seconds=config.poll_interval_seconds,
        ),
        release_lock=record_failure,
    )
    conclude = states.invoke(
        "Conclude batch",
        validate,
        {"mode": "batch_conclude", **upload_request(), "plan": sfn.JsonPath.object_at(PLAN_PATH)},
        RESULT_PATH,
    )
    job_completed(conclude)
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
