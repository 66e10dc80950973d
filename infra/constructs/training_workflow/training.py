"""Training: a SageMaker training job in the framework image, script mode, on the channels
validation wrote, waited on until it completes. When a version serves, the job also receives
its model artifact and the reference holdout (the approved versions' test splits) and writes
the champion's predictions beside the challenger's, so evaluation never calls the live
endpoint."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack, aws_kms as kms, aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks
from constructs import Construct

from functions.common import s3_layout
from functions.common.config import DatasetSchema, TrainingConfig
from infra.constructs.training import TrainingResources
from infra.constructs.training_workflow.lock import DeploymentLockStates
from infra.constructs.training_workflow.states import Exit, SageMakerJobWait, WorkflowStates

SOURCE_CHANNEL = "code"
DATA_CHANNELS = ("train", "validation", "test")
SHARDED_CHANNEL = "train"
# functions/training/train.py CHAMPION_CHANNEL and REFERENCE_CHANNEL.
CHAMPION_CHANNEL = "champion"
REFERENCE_CHANNEL = "reference"
CHAMPION_PATH = "$.validation.champion"
SAGEMAKER_CONTAINER_LOG_LEVEL = "20"


def train(
    scope: Construct,
    states: WorkflowStates,
    lock: DeploymentLockStates,
    *,
    config: TrainingConfig,
    dataset: DatasetSchema,
    training: TrainingResources,
    artifacts_bucket: s3.IBucket,
    key: kms.IKey,
    after: Sequence[Exit],
) -> Exit:
    """Train where `after` leads; returns the branch a completed training job takes."""
    options = {
        "config": config, "dataset": dataset, "training": training, "artifacts_bucket": artifacts_bucket, "key": key
    }
    first_model = _start_training(scope, states, "Start training", against_champion=False, **options)
    against_champion = _start_training(
        scope, states, "Start training against the champion", against_champion=True, **options
    )
    reference = f"{CHAMPION_PATH}.reference_manifest_uri"
    champion_serving = (
        sfn.Choice(scope, "Is a version serving?")
        # A Choice on a missing field fails the execution; validation writes null when none serves.
        .when(
            sfn.Condition.and_(
                sfn.Condition.is_present(CHAMPION_PATH),
                sfn.Condition.is_not_null(CHAMPION_PATH),
                sfn.Condition.is_present(reference),
                sfn.Condition.is_not_null(reference),
            ),
            against_champion,
        )
        .otherwise(first_model)
    )
    for leads_here in after:
        leads_here(champion_serving)
    return states.wait_for_job(
        [first_model, against_champion],
        SageMakerJobWait(
            step="training",
            job="training job",
            api="TrainingJob",
            name_path="$.validation.training_job_name",
            result_path="$.training",
            poll_interval_seconds=config.poll_interval_seconds,
        ),
        release_lock=lock.release("Release deployment lock (training failed)"),
    )


def _start_training(
    scope: Construct,
    states: WorkflowStates,
    name: str,
    *,
    against_champion: bool,
    config: TrainingConfig,
    dataset: DatasetSchema,
    training: TrainingResources,
    artifacts_bucket: s3.IBucket,
    key: kms.IKey,
) -> tasks.CallAwsService:
    bundle_key = training.source_bundle.s3_object_key
    hyperparameters = {
        "sagemaker_program": training.entry_point,
        "sagemaker_submit_directory": f"/opt/ml/input/data/{SOURCE_CHANNEL}/{bundle_key}",
        "sagemaker_region": Stack.of(scope).region,
        "sagemaker_container_log_level": SAGEMAKER_CONTAINER_LOG_LEVEL,
        **{name: str(value) for name, value in config.hyperparameters.items()},
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
                    "S3DataDistributionType": _distribution(channel, config),
                }
            },
            "ContentType": "text/csv",
        }
        for channel in DATA_CHANNELS
    ]
    if against_champion:
        channels.append(_channel(CHAMPION_CHANNEL, f"{CHAMPION_PATH}.model_artifact", "S3Prefix"))
        # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html:
        # a ManifestFile names each object of the channel under one common prefix.
        channels.append(_channel(REFERENCE_CHANNEL, f"{CHAMPION_PATH}.reference_manifest_uri", "ManifestFile"))
    channels.append(
        {
            "ChannelName": SOURCE_CHANNEL,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": training.source_bundle_uri,
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }
    )
    return states.sagemaker_call(
        name,
        "createTrainingJob",
        {
            "TrainingJobName": sfn.JsonPath.string_at("$.validation.training_job_name"),
            "AlgorithmSpecification": {
                "TrainingImage": training.training_image_uri,
                "TrainingInputMode": "File",
            },
            "RoleArn": training.training_role.role_arn,
            "HyperParameters": hyperparameters,
            "InputDataConfig": channels,
            "OutputDataConfig": {
                "S3OutputPath": artifacts_bucket.s3_url_for_object(s3_layout.TRAINING_OUTPUT_PREFIX),
                "KmsKeyId": key.key_arn,
            },
            "ResourceConfig": {
                "InstanceType": config.instance_type,
                "InstanceCount": config.instance_count,
                "VolumeSizeInGB": config.volume_size_gb,
                "VolumeKmsKeyId": key.key_arn,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": config.max_runtime_seconds},
            "EnableNetworkIsolation": config.network_isolation,
        },
        result_path=sfn.JsonPath.DISCARD,
    )


def _distribution(channel: str, config: TrainingConfig) -> str:
    """Each instance of a distributed job reads its own share of the training split's part files
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html, ShardedByS3Key:
    "each machine ... gets approximately 1/n of the number of S3 objects"); every instance scores
    the whole validation and test splits."""
    if channel == SHARDED_CHANNEL and config.instance_count > 1:
        return "ShardedByS3Key"
    return "FullyReplicated"


def _channel(name: str, uri_path: str, data_type: str) -> dict[str, object]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": data_type,
                "S3Uri": sfn.JsonPath.string_at(uri_path),
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }
