"""Register version: the SageMaker model package group and the Lambda function that
registers each evaluated model in it, approved or pending by policy."""

from __future__ import annotations

from aws_cdk import Aws, Duration, Fn, RemovalPolicy, aws_iam as iam, aws_kms as kms, aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from functions.common import s3_layout
from functions.register_model.settings import RegistrationSettings
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

REGISTER_MEMORY_MB = 512
REGISTER_TIMEOUT = Duration.minutes(5)


def stack_scoped_group_name(configured_name: str) -> str:
    """The configured group name with the first block of the stack's id after it.

    The group is retained when the stack is deleted (its versions are the lineage record of what
    served), so under the configured name alone a deployment after `cdk destroy` would fail with
    "already exists". Each stack gets a group of its own; an earlier stack's stays readable."""
    stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
    return Fn.join("-", [configured_name, Fn.select(0, Fn.split("-", stack_uuid))])


class RegistryStage(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: LambdaFactory,
        project: str,
        data_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        model_package_group: str,
        inference_image_uri: str,
        code_version: str,
        invoker: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=model_package_group,
            model_package_group_description=f"Versions of the {project} pipeline's model",
        )
        # Registered versions are the lineage record of what served; they outlive the stack.
        # Nothing references the group resource: everything uses its configured name, so the
        # template also deploys where this resource type is unavailable (the local runtime).
        self.model_package_group.apply_removal_policy(RemovalPolicy.RETAIN)

        self.function: PipelineFunction = factory.create(
            self,
            "RegisterModel",
            FunctionSpec(
                name="register_model",
                description="Registers an evaluated model version in the model registry",
                memory_mb=REGISTER_MEMORY_MB,
                timeout=REGISTER_TIMEOUT,
                environment=RegistrationSettings(
                    data_bucket=data_bucket.bucket_name,
                    model_package_group=model_package_group,
                    inference_image_uri=inference_image_uri,
                    code_version=code_version,
                ).to_environment(),
                synchronous_invoker=invoker,
            ),
        )
        role = self.function.role
        grant_bucket_prefixes(role, data_bucket, read=[s3_layout.REPORTS_PREFIX], purpose="data bucket")
        grant_key(role, encryption_key, write=False)
        grant_list_model_packages(role)
        grant_model_packages(
            role,
            model_package_group,
            [
                "sagemaker:CreateModelPackage",
                "sagemaker:DescribeModelPackage",
                "sagemaker:UpdateModelPackage",
                "sagemaker:DescribeModelPackageGroup",
                # CreateModelPackage with Tags authorizes AddTags on the new version.
                "sagemaker:AddTags",
            ],
            include_group=True,
        )
        training_jobs = sagemaker_arn(self, "training-job", project_pattern(project))
        role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:DescribeTrainingJob"], resources=[training_jobs]))
        acknowledge_sagemaker_patterns(
            role,
            [training_jobs],
            f"Limited to the training jobs the pipeline names with the '{project}-' prefix; their "
            "names carry the dataset version and execution.",
        )

