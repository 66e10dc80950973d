"""What a SageMaker training job and a SageMaker model need: the framework image
(scikit-learn or XGBoost) for the stack's region, the training source bundle, and the two execution roles."""

from __future__ import annotations

import functools
from pathlib import Path

from aws_cdk import ArnFormat, Aws, CfnMapping, Stack, aws_iam as iam, aws_kms as kms, aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from functions.common import s3_layout
from infra.constructs.nag import acknowledge, arn_reference
from infra.constructs.permissions import (
    acknowledge_sagemaker_logs_and_metrics,
    sagemaker_log_statements,
    sagemaker_metric_statement,
)

# One CloudFormation mapping of image URIs per region for each framework image the stack uses.
IMAGE_MAPPING_IDS = {"sklearn": "SklearnImages", "xgboost": "XgboostImages"}
IMAGE_MAPPING_ID = IMAGE_MAPPING_IDS["sklearn"]
IMAGE_KEY = "image"
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
ENDPOINT_LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints"
# The validation job runs in the scikit-learn image whichever framework trains: its bundle needs
# that image's pandas and pyarrow, and the local cloud runs it in that image's environment.
VALIDATION_FRAMEWORK = "sklearn"


@functools.lru_cache(maxsize=None)
def framework_image_uris(framework: str, framework_version: str) -> dict[str, dict[str, str]]:
    """Region -> {"image": uri} for every region the SageMaker SDK knows the image in.

    A framework image serves both training (script mode) and inference (the model's
    inference.py), so one URI per region is used for both.
    """
    from sagemaker.core import image_uris  # imported here: slow to import, only needed at synth

    config = image_uris.config_for_framework(framework)
    regions = sorted(config["training"]["versions"][framework_version]["registries"])
    return {
        region: {IMAGE_KEY: image_uris.retrieve(framework, region=region, version=framework_version)}
        for region in regions
    }


def sklearn_image_uris(framework_version: str) -> dict[str, dict[str, str]]:
    return framework_image_uris("sklearn", framework_version)


def training_job_prefix(project: str) -> str:
    """The start of every training job name the pipeline gives (validate_data.service.training_job_name)."""
    return f"{project}-"


class TrainingResources(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        framework: str,
        framework_version: str,
        validation_framework_version: str,
        training_bundle_file: Path,
        project: str,
        entry_point: str = "train.py",
        endpoint_name: str,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        encryption_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        mappings = {
            name: CfnMapping(stack, IMAGE_MAPPING_IDS[name], mapping=framework_image_uris(name, version), lazy=False)
            for name, version in {VALIDATION_FRAMEWORK: validation_framework_version, framework: framework_version}.items()
        }
        self.training_image_uri = mappings[framework].find_in_map(Aws.REGION, IMAGE_KEY)
        self.inference_image_uri = self.training_image_uri
        self.validation_image_uri = mappings[VALIDATION_FRAMEWORK].find_in_map(Aws.REGION, IMAGE_KEY)

        self.source_bundle = s3_assets.Asset(self, "SourceBundle", path=str(training_bundle_file))
        self.code_version = self.source_bundle.asset_hash
        # The bundle's program: the built-in train.py, or the runner of the user's code.
        self.entry_point = entry_point

        self.training_role = iam.Role(
            self,
            "TrainingRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Runs the pipeline's SageMaker training jobs",
        )
        self._grant_training(data_bucket, artifacts_bucket, encryption_key, training_job_prefix(project))

        self.model_role = iam.Role(
            self,
            "ModelRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Runs the pipeline's SageMaker models behind the endpoint",
        )
        self._grant_model(data_bucket, artifacts_bucket, encryption_key, endpoint_name)

    def allow_watching_rollback_alarms(self, alarm_names: list[str]) -> None:
        """A blue/green update watches its auto-rollback alarms as the model's execution role
        (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html:
        "Ensure that your IAM execution role has permission to perform the
        cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify")."""
        stack = Stack.of(self)
        self.model_role.add_to_policy(
            iam.PolicyStatement(
                sid="WatchRollbackAlarms",
                actions=["cloudwatch:DescribeAlarms"],
                resources=[
                    stack.format_arn(
                        service="cloudwatch", resource="alarm", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
                    )
                    for name in alarm_names
                ],
            )
        )

    @property
    def source_bundle_uri(self) -> str:
        return self.source_bundle.s3_object_url

    def _grant_training(
        self, data_bucket: s3.IBucket, artifacts_bucket: s3.IBucket, key: kms.IKey, job_prefix: str
    ) -> None:
        stack = Stack.of(self)
        role = self.training_role
        bundle_object_arn = stack.format_arn(
            service="s3",
            region="",
            account="",
            resource=self.source_bundle.s3_bucket_name,
            resource_name=self.source_bundle.s3_object_key,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        statements = [
            iam.PolicyStatement(
                sid="ReadCuratedData",
                actions=["s3:GetObject"],
                resources=[data_bucket.arn_for_objects(f"{s3_layout.CURATED_PREFIX}*")],
            ),
            iam.PolicyStatement(
                sid="ListCuratedData",
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{s3_layout.CURATED_PREFIX}*"]}},
            ),
            iam.PolicyStatement(
                sid="ReadSourceBundle",
                actions=["s3:GetObject"],
                resources=[bundle_object_arn],
            ),
            iam.PolicyStatement(
                sid="ListSourceBundle",
                actions=["s3:ListBucket"],
                resources=[self.source_bundle.bucket.bucket_arn],
                conditions={"StringEquals": {"s3:prefix": [self.source_bundle.s3_object_key]}},
            ),
            # The champion's model.tar.gz, an input channel: the training job scores the
            # serving version on the same rows, so evaluation never calls the live endpoint.
            iam.PolicyStatement(
                sid="ReadChampionArtifact",
                actions=["s3:GetObject"],
                resources=[artifacts_bucket.arn_for_objects(f"{s3_layout.TRAINING_OUTPUT_PREFIX}*")],
            ),
            iam.PolicyStatement(
                sid="ListChampionArtifact",
                actions=["s3:ListBucket"],
                resources=[artifacts_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{s3_layout.TRAINING_OUTPUT_PREFIX}*"]}},
            ),
            iam.PolicyStatement(
                sid="WriteTrainingOutput",
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[artifacts_bucket.arn_for_objects(f"{s3_layout.TRAINING_OUTPUT_PREFIX}*")],
            ),
            iam.PolicyStatement(
                sid="UseKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[key.key_arn],
            ),
            *sagemaker_log_statements(stack, TRAINING_LOG_GROUP, job_prefix),
            sagemaker_metric_statement("/aws/sagemaker/TrainingJobs"),
        ]
        for statement in statements:
            role.add_to_policy(statement)
        data_arn = arn_reference(_cfn(data_bucket))
        artifacts_arn = arn_reference(_cfn(artifacts_bucket))
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Object-level access is limited to the prefixes training reads (curated/, and the "
            "champion's artifact under training-jobs/) and writes (training-jobs/); object names are "
            "only known at run time.",
            findings=[
                f"Resource::{data_arn}/{s3_layout.CURATED_PREFIX}*",
                f"Resource::{artifacts_arn}/{s3_layout.TRAINING_OUTPUT_PREFIX}*",
            ],
        )
        acknowledge_sagemaker_logs_and_metrics(role, stack, TRAINING_LOG_GROUP, job_prefix)

    def _grant_model(
        self, data_bucket: s3.IBucket, artifacts_bucket: s3.IBucket, key: kms.IKey, endpoint_name: str
    ) -> None:
        stack = Stack.of(self)
        role = self.model_role
        statements = [
            iam.PolicyStatement(
                sid="ReadModelArtifacts",
                actions=["s3:GetObject"],
                resources=[artifacts_bucket.arn_for_objects(f"{s3_layout.TRAINING_OUTPUT_PREFIX}*")],
            ),
            iam.PolicyStatement(
                sid="WriteDataCapture",
                actions=["s3:PutObject"],
                resources=[data_bucket.arn_for_objects(f"{s3_layout.CAPTURE_PREFIX}*")],
            ),
            iam.PolicyStatement(
                sid="UseKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[key.key_arn],
            ),
            *sagemaker_log_statements(stack, f"{ENDPOINT_LOG_GROUP_PREFIX}/{endpoint_name}", ""),
            sagemaker_metric_statement("/aws/sagemaker/Endpoints"),
        ]
        for statement in statements:
            role.add_to_policy(statement)
        data_arn = arn_reference(_cfn(data_bucket))
        artifacts_arn = arn_reference(_cfn(artifacts_bucket))
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "The model reads only training output (training-jobs/) and writes only data capture "
            "(capture/); object names are only known at run time.",
            findings=[
                f"Resource::{artifacts_arn}/{s3_layout.TRAINING_OUTPUT_PREFIX}*",
                f"Resource::{data_arn}/{s3_layout.CAPTURE_PREFIX}*",
            ],
        )
        acknowledge_sagemaker_logs_and_metrics(role, stack, f"{ENDPOINT_LOG_GROUP_PREFIX}/{endpoint_name}", "")


def _cfn(bucket: s3.IBucket) -> s3.CfnBucket:
    cfn_bucket = bucket.node.default_child
    assert isinstance(cfn_bucket, s3.CfnBucket)
    return cfn_bucket
