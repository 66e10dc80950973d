"""Prepare deployment: the Lambda function that turns an approval in the Model Registry into
what the Deploy states need, or into the reason not to deploy."""

from __future__ import annotations

from aws_cdk import Duration
from constructs import Construct

from functions.prepare_deployment.settings import DeploymentSettings
from infra.constructs.lambda_factory import FunctionSpec, LambdaFactory, PipelineFunction
from infra.constructs.permissions import grant_list_model_packages, grant_model_packages, grant_read_serving_model

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
        batch_only: bool,
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
        if batch_only:
            # The version in service is the newest approved version (functions/common/version_in_service.py).
            grant_list_model_packages(role)
        else:
            # What the endpoint serves: endpoint -> endpoint config -> model -> MODEL_VERSION.
            grant_read_serving_model(role, project, endpoint_name)
