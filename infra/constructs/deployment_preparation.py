"""Prepare deployment: the Lambda function that turns an approval in the Model Registry into
what the Deploy states need, or into the reason not to deploy."""

from __future__ import annotations

from aws_cdk import Duration, aws_iam as iam
from constructs import Construct

from functions.prepare_deployment.settings import DeploymentSettings
from infra.constructs.lambda_factory import FunctionSpec, LambdaFactory, PipelineFunction
from infra.constructs.permissions import (
    acknowledge_sagemaker_patterns,
    grant_model_packages,
    project_pattern,
    sagemaker_arn,
)

PREPARE_MEMORY_MB = 256
PREPARE_TIMEOUT = Duration.minutes(2)


class DeploymentPreparationStage(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: LambdaFactory,
        project: str,
        model_package_group: str,
        endpoint_name: str,
        invoker: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function: PipelineFunction = factory.create(
            self,
            "PrepareDeployment",
            FunctionSpec(
                name="prepare_deployment",
                description="Decides whether an approved model version is deployed and names its resources",
                memory_mb=PREPARE_MEMORY_MB,
                timeout=PREPARE_TIMEOUT,
                environment=DeploymentSettings(
                    model_package_group=model_package_group, endpoint_name=endpoint_name
                ).to_environment(),
                synchronous_invoker=invoker,
            ),
        )
        role = self.function.role
        grant_model_packages(role, model_package_group, ["sagemaker:DescribeModelPackage"], include_group=False)
        # What the endpoint serves: endpoint -> endpoint config -> model -> MODEL_VERSION.
        endpoint = sagemaker_arn(self, "endpoint", endpoint_name.lower())
        endpoint_configs = sagemaker_arn(self, "endpoint-config", project_pattern(project))
        models = sagemaker_arn(self, "model", project_pattern(project))
        role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:DescribeEndpoint"], resources=[endpoint]))
        role.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeEndpointConfig"], resources=[endpoint_configs])
        )
        role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:DescribeModel"], resources=[models]))
        acknowledge_sagemaker_patterns(
            role,
            [endpoint_configs, models],
            f"Limited to the endpoint configs and models the pipeline names with the '{project}-' "
            "prefix; their names carry the model version and execution.",
        )
