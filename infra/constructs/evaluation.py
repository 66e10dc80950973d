"""Evaluate model: the Lambda function that scores the new model and the production model
on the held-out test split and applies the gates."""

from __future__ import annotations

from aws_cdk import Duration, aws_iam as iam, aws_kms as kms, aws_s3 as s3
from constructs import Construct

from functions.common import s3_layout
from functions.evaluate_model.settings import EvaluationSettings
from infra.constructs.lambda_factory import FunctionSpec, LambdaFactory, PipelineFunction
from infra.constructs.permissions import (
    acknowledge_sagemaker_patterns,
    grant_bucket_prefixes,
    grant_key,
    grant_list_model_packages,
    grant_model_packages,
    project_pattern,
    sagemaker_arn,
)

EVALUATE_MEMORY_MB = 2048
EVALUATE_EPHEMERAL_STORAGE_MB = 2048
EVALUATE_TIMEOUT = Duration.minutes(15)


class EvaluationStage(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: LambdaFactory,
        project: str,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        model_package_group: str,
        endpoint_name: str,
        invoker: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function: PipelineFunction = factory.create(
            self,
            "EvaluateModel",
            FunctionSpec(
                name="evaluate_model",
                description="Scores the new and the production model on the test split and applies the gates",
                memory_mb=EVALUATE_MEMORY_MB,
                ephemeral_storage_mb=EVALUATE_EPHEMERAL_STORAGE_MB,
                timeout=EVALUATE_TIMEOUT,
                environment=EvaluationSettings(
                    data_bucket=data_bucket.bucket_name,
                    endpoint_name=endpoint_name,
                    model_package_group=model_package_group,
                ).to_environment(),
                synchronous_invoker=invoker,
            ),
        )
        role = self.function.role
        grant_bucket_prefixes(
            role,
            data_bucket,
            read=[s3_layout.CURATED_PREFIX, s3_layout.REPORTS_PREFIX],
            write=[s3_layout.REPORTS_PREFIX],
            purpose="data bucket",
        )
        grant_bucket_prefixes(
            role, artifacts_bucket, read=[s3_layout.TRAINING_OUTPUT_PREFIX], purpose="artifacts bucket"
        )
        grant_key(role, encryption_key, write=True)

        training_jobs = sagemaker_arn(self, "training-job", project_pattern(project))
        endpoint = sagemaker_arn(self, "endpoint", endpoint_name.lower())
        endpoint_configs = sagemaker_arn(self, "endpoint-config", project_pattern(project))
        models = sagemaker_arn(self, "model", project_pattern(project))
        role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:DescribeTrainingJob"], resources=[training_jobs]))
        # What is serving, and how it scores the same rows: the champion side of the comparison.
        role.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"], resources=[endpoint])
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeEndpointConfig"], resources=[endpoint_configs])
        )
        role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:DescribeModel"], resources=[models]))
        acknowledge_sagemaker_patterns(
            role,
            [training_jobs, endpoint_configs, models],
            f"Limited to the training jobs, endpoint configs and models the pipeline names with the "
            f"'{project}-' prefix; their names carry the dataset version and execution.",
        )
        grant_list_model_packages(role)
        grant_model_packages(role, model_package_group, ["sagemaker:DescribeModelPackage"], include_group=False)
        # Whether the endpoint exists at all: ListEndpoints has no resource-level permissions.
        role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:ListEndpoints"], resources=["*"]))
