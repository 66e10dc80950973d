"""What the state machine's role may do beyond what its tasks grant themselves: the ARNs the
tasks are limited to, the roles it passes to SageMaker, the key, the rollback alarms, and the
cdk-nag acknowledgements of the wildcards among them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack, aws_iam as iam, aws_kms as kms, aws_lambda as lambda_
from constructs import Construct

from infra.constructs.nag import acknowledge, nag_text
from infra.constructs.permissions import (
    acknowledge_sagemaker_patterns,
    grant_key_grants_for_sagemaker,
    project_pattern,
    sagemaker_arn,
)


@dataclass(frozen=True)
class WorkflowArns:
    """The resources the state machine's tasks act on, as IAM resource ARNs."""

    scope: Construct
    project: str
    endpoint_name: str
    state_machine_name: str

    @property
    def executions(self) -> str:
        # The state machine's own name, not its ARN attribute: the role must not depend on the
        # state machine that uses it.
        return Stack.of(self.scope).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    @property
    def training_jobs(self) -> str:
        return sagemaker_arn(self.scope, "training-job", project_pattern(self.project))

    @property
    def processing_jobs(self) -> str:
        return sagemaker_arn(self.scope, "processing-job", project_pattern(self.project))

    @property
    def transform_jobs(self) -> str:
        return sagemaker_arn(self.scope, "transform-job", project_pattern(self.project))

    @property
    def models(self) -> str:
        return sagemaker_arn(self.scope, "model", project_pattern(self.project))

    @property
    def endpoint_configs(self) -> str:
        return sagemaker_arn(self.scope, "endpoint-config", project_pattern(self.project))

    @property
    def endpoint(self) -> str:
        return sagemaker_arn(self.scope, "endpoint", self.endpoint_name.lower())

    def sagemaker_resources(self, action: str) -> list[str]:
        """The resources of one SageMaker API action (its aws-sdk name) the state machine calls."""
        resources = {
            "createProcessingJob": [self.processing_jobs],
            "describeProcessingJob": [self.processing_jobs],
            "createTrainingJob": [self.training_jobs],
            "describeTrainingJob": [self.training_jobs],
            "createTransformJob": [self.transform_jobs],
            "describeTransformJob": [self.transform_jobs],
            "createModel": [self.models],
            "createEndpointConfig": [self.endpoint_configs],
            # ListEndpoints has no resource-level permissions.
            "listEndpoints": ["*"],
            "createEndpoint": [self.endpoint, self.endpoint_configs],
            "updateEndpoint": [self.endpoint, self.endpoint_configs],
            "describeEndpoint": [self.endpoint],
        }
        return resources[action]


def grant_workflow_role(
    role: iam.Role,
    *,
    arns: WorkflowArns,
    passed_roles: Sequence[iam.IRole],
    key: kms.IKey,
    rollback_alarm_names: Sequence[str],
    functions: Sequence[lambda_.IFunction],
) -> None:
    """Grant what the tasks' own statements leave out and acknowledge every wildcard."""
    stack = Stack.of(arns.scope)
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[passed.role_arn for passed in passed_roles],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
    )
    grant_key_grants_for_sagemaker(role, key)
    role.add_to_policy(
        iam.PolicyStatement(actions=["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn])
    )
    # Blue/green updates watch these alarms to decide on automatic rollback (none without an
    # endpoint: deployment.mode batch_only).
    if rollback_alarm_names:
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:DescribeAlarms"],
                resources=[
                    stack.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name=name,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                    for name in rollback_alarm_names
                ],
            )
        )
    acknowledge_sagemaker_patterns(
        role,
        [arns.training_jobs, arns.models, arns.endpoint_configs],
        f"Limited to the training jobs, models and endpoint configs the pipeline names with the "
        f"'{arns.project}-' prefix; each name carries the dataset version and execution.",
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        "DescribeExecution of the deployment lock's owner, which is an execution of this state "
        "machine whose name is only known at run time.",
        findings=[f"Resource::{nag_text(role, arns.executions)}"],
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        "sagemaker:ListEndpoints, X-Ray tracing and the CloudWatch Logs delivery actions of "
        "state machine logging have no resource-level permissions.",
        findings=["Resource::*"],
    )
    for function in functions:
        cfn_function = function.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction)
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Invoking the pipeline's own function, including its versions and aliases.",
            findings=[f"Resource::<{stack.resolve(stack.get_logical_id(cfn_function))}.Arn>:*"],
        )
    acknowledge_sagemaker_patterns(
        role,
        [arns.transform_jobs],
        f"Limited to the batch transform jobs the pipeline names with the '{arns.project}-' prefix; "
        "each name carries the execution it scores for.",
    )
    acknowledge_sagemaker_patterns(
        role,
        [arns.processing_jobs],
        f"Limited to the validation jobs the pipeline names with the '{arns.project}-' prefix; "
        "each name carries the execution it validates for.",
    )
