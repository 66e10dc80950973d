"""Validation of an upload: "Validate data" (Lambda) for an upload up to
validation.max_lambda_file_bytes, a SageMaker Processing job running the same validation for a
larger one, or for one the function cannot read (a Parquet codec the layer's pyarrow lacks).
Both leave the same result in $.validation, which ends a duplicate or a rejected upload here."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_kms as kms, aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks
from constructs import Construct

from functions.common.config import ValidationConfig
from functions.common.outcome import Outcome
from infra.constructs import validation_job as job_paths
from infra.constructs.training_workflow.lock import DeploymentLockStates
from infra.constructs.training_workflow.states import Exit, SageMakerJobWait, WorkflowStates
from infra.constructs.validation_job import ValidationJobResources

JOB_PLAN_PATH = "$.validation_job"


def upload_request() -> dict[str, object]:
    """What the validate function receives about the upload (functions/common/contracts.py
    ValidateDataRequest), on either route."""
    return {
        "bucket": sfn.JsonPath.string_at("$.detail.bucket.name"),
        "key": sfn.JsonPath.string_at("$.detail.object.key"),
        # The whole object, not "$.detail.object.version-id": that field is absent for an
        # unversioned bucket, and a path to a missing field fails the execution.
        "object": sfn.JsonPath.object_at("$.detail.object"),
        "execution_arn": sfn.JsonPath.string_at("$$.Execution.Id"),
        "execution_name": sfn.JsonPath.string_at("$$.Execution.Name"),
    }


def validate_upload(
    scope: Construct,
    states: WorkflowStates,
    lock: DeploymentLockStates,
    *,
    config: ValidationConfig,
    validate: lambda_.IFunction,
    job: ValidationJobResources,
    key: kms.IKey,
    after: Sequence[Exit],
) -> Exit:
    """Validate the upload where `after` leads (holding the deployment lock, so the drift check
    and the gate see the same serving version); returns the branch accepted data takes."""
    validate_data = states.invoke("Validate data", validate, upload_request(), "$.validation")
    data_rejected = lock.release("Release deployment lock (data rejected)")
    data_rejected.next(states.notify(
        "Notify data rejected",
        "Data rejected: {} ({}). A copy is kept in {}.",
        "$.validation.source_uri",
        "$.validation.reason",
        "$.validation.quarantine_uri",
        subject="data rejected",
    ).next(
        states.record("Record data rejected", Outcome.DATA_REJECTED, sfn.JsonPath.string_at("$.validation.reason"))
    ).next(sfn.Succeed(scope, "Data rejected")))
    duplicate = lock.release("Release deployment lock (duplicate)")
    duplicate.next(
        states.record("Record duplicate", Outcome.DUPLICATE, sfn.JsonPath.string_at("$.validation.reason")).next(
            sfn.Succeed(scope, "Duplicate upload")
        )
    )
    data_accepted = (
        sfn.Choice(scope, "Data accepted?")
        .when(sfn.Condition.string_equals("$.validation.outcome", "duplicate"), duplicate)
        .when(sfn.Condition.string_equals("$.validation.outcome", "data_rejected"), data_rejected)
    )
    job_route = _validation_job_route(
        scope, states, lock, config=config, validate=validate, job=job, key=key, then=data_accepted
    )
    # A file the function cannot read (a Parquet codec the layer's pyarrow lacks) goes to the job.
    data_accepted.when(sfn.Condition.string_equals("$.validation.outcome", "validation_job_needed"), job_route)
    validate_data.next(data_accepted)
    validation_route = (
        sfn.Choice(scope, "Which validation route?")
        .when(
            # A Choice on a missing field fails the execution; without a size, the Lambda route decides.
            sfn.Condition.and_(
                sfn.Condition.is_present("$.detail.object.size"),
                sfn.Condition.number_greater_than("$.detail.object.size", config.max_lambda_file_bytes),
            ),
            job_route,
        )
        .otherwise(validate_data)
    )
    for leads_here in after:
        leads_here(validation_route)
    return data_accepted.otherwise


def _validation_job_route(
    scope: Construct,
    states: WorkflowStates,
    lock: DeploymentLockStates,
    *,
    config: ValidationConfig,
    validate: lambda_.IFunction,
    job: ValidationJobResources,
    key: kms.IKey,
    then: sfn.IChainable,
) -> sfn.IChainable:
    """Plan, a SageMaker Processing job that runs the same validation, then conclude, which
    leaves the result "Validate data" would leave in $.validation."""

    plan = states.invoke("Plan validation job", validate, {"mode": "plan", **upload_request()}, JOB_PLAN_PATH)
    # The upload is gone: the plan carries the rejection the Lambda route gives.
    take_planning_result = sfn.Pass(
        scope, "Take planning result", input_path=f"{JOB_PLAN_PATH}.result", result_path="$.validation"
    )
    start_job = start_validation_job(states, "Start validation job", JOB_PLAN_PATH, config=config, job=job, key=key)
    conclude = states.invoke("Conclude validation job", validate, {"mode": "conclude", **upload_request()}, "$.validation")

    plan.next(
        sfn.Choice(scope, "Validation job needed?")
        .when(sfn.Condition.is_not_null(f"{JOB_PLAN_PATH}.result"), take_planning_result)
        .otherwise(start_job)
    )
    take_planning_result.next(then)
    job_completed = states.wait_for_job(
        [start_job],
        processing_job_wait("validation job", f"{JOB_PLAN_PATH}.job_name", config),
        release_lock=lock.release("Release deployment lock (validation job failed)"),
    )
    job_completed(conclude)
    conclude.next(then)
    return plan


def start_validation_job(
    states: WorkflowStates,
    name: str,
    plan_path: str,
    *,
    config: ValidationConfig,
    job: ValidationJobResources,
    key: kms.IKey,
) -> tasks.CallAwsService:
    """CreateProcessingJob for the validation job whose plan (a ValidationJobPlan) is at `plan_path`."""
    return start_processing_job(
        states,
        name,
        job_name=sfn.JsonPath.string_at(f"{plan_path}.job_name"),
        arguments=job.arguments,
        inputs=[
            processing_input("code", job.code_bundle_uri, job_paths.CODE_DIR),
            processing_input("plan", sfn.JsonPath.string_at(f"{plan_path}.plan_uri"), job_paths.PLAN_DIR),
            # The manifest names exactly the uploaded object.
            processing_input(
                "data",
                sfn.JsonPath.string_at(f"{plan_path}.source_manifest_uri"),
                job_paths.DATA_DIR,
                data_type="ManifestFile",
            ),
        ],
        outputs=[
            processing_output("validation", sfn.JsonPath.string_at(f"{plan_path}.output_uri"), job_paths.OUTPUT_DIR)
        ],
        instance_count=config.processing.instance_count,
        config=config,
        job=job,
        key=key,
    )


def processing_input(name: str, uri: str, local_path: str, *, data_type: str = "S3Prefix") -> dict[str, object]:
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


def processing_output(name: str, uri: str, local_path: str) -> dict[str, object]:
    return {"OutputName": name, "S3Output": {"S3Uri": uri, "LocalPath": local_path, "S3UploadMode": "EndOfJob"}}


def processing_job_wait(step: str, name_path: str, config: ValidationConfig) -> SageMakerJobWait:
    """How the states waiting for a Processing job of the validation image name themselves
    ("Wait for <step>") and where they read: its name at `name_path`, its description in
    $.processing."""
    return SageMakerJobWait(
        step=step,
        job=step,
        api="ProcessingJob",
        name_path=name_path,
        result_path="$.processing",
        poll_interval_seconds=config.processing.poll_interval_seconds,
    )


def start_processing_job(
    states: WorkflowStates,
    name: str,
    *,
    job_name: str,
    arguments: list[str],
    inputs: list[dict[str, object]],
    outputs: list[dict[str, object]],
    instance_count: int,
    config: ValidationConfig,
    job: ValidationJobResources,
    key: kms.IKey,
) -> tasks.CallAwsService:
    """CreateProcessingJob of the validation job's image and role, sized by validation.processing."""
    settings = config.processing
    return states.sagemaker_call(
        name,
        "createProcessingJob",
        {
            "ProcessingJobName": job_name,
            "RoleArn": job.role.role_arn,
            "AppSpecification": {
                "ImageUri": job.image_uri,
                "ContainerEntrypoint": job.entrypoint,
                "ContainerArguments": arguments,
            },
            "ProcessingInputs": inputs,
            "ProcessingOutputConfig": {"Outputs": outputs, "KmsKeyId": key.key_arn},
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": instance_count,
                    "InstanceType": settings.instance_type,
                    "VolumeSizeInGB": settings.volume_size_gb,
                    "VolumeKmsKeyId": key.key_arn,
                }
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_runtime_seconds},
            # The job only reads its inputs and writes its output, which SageMaker moves.
            "NetworkConfig": {"EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True},
        },
        result_path=sfn.JsonPath.DISCARD,
    )
