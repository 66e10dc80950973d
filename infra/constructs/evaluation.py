"""Evaluate model: the Lambda function that compares the new model with the production model
from the predictions the training job wrote (on the new test rows and the reference holdout)
and applies the gates. It never calls the endpoint."""

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
        invoker: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function: PipelineFunction = factory.create(
            self,
            "EvaluateModel",
            FunctionSpec(
                name="evaluate_model",
                description="Compares the new and the production model's predictions and applies the gates",
                memory_mb=EVALUATE_MEMORY_MB,
                ephemeral_storage_mb=EVALUATE_EPHEMERAL_STORAGE_MB,
                timeout=EVALUATE_TIMEOUT,
                environment=EvaluationSettings(
                    data_bucket=data_bucket.bucket_name,
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
        role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:DescribeTrainingJob"], resources=[training_jobs]))
        acknowledge_sagemaker_patterns(
            role,
            [training_jobs],
            f"Limited to the training jobs the pipeline names with the '{project}-' prefix; their names "
            "carry the dataset version and execution.",
        )
