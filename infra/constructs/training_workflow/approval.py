"""A person's approval of a version in the Model Registry, under the deployment lock: prepare
its deployment, or end as a duplicate when it needs none (the version already serves, or was
approved by policy)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from functions.common.outcome import Outcome
from infra.constructs.training_workflow.lock import DeploymentLockStates
from infra.constructs.training_workflow.states import Exit, WorkflowStates


def prepare_deployment(
    scope: Construct,
    states: WorkflowStates,
    lock: DeploymentLockStates,
    *,
    prepare: lambda_.IFunction,
    after: Sequence[Exit],
) -> Exit:
    """Prepare the approved version's deployment where `after` leads; returns the branch a
    version that needs deploying takes."""
    prepare_deployment_task = states.invoke(
        "Prepare deployment",
        prepare,
        {
            "detail": sfn.JsonPath.object_at("$.detail"),
            "event_id": sfn.JsonPath.string_at("$.id"),
            "execution_arn": sfn.JsonPath.string_at("$$.Execution.Id"),
            "execution_name": sfn.JsonPath.string_at("$$.Execution.Name"),
        },
        "$.registration",
    )
    for leads_here in after:
        leads_here(prepare_deployment_task)
    deployment_not_needed = lock.release("Release deployment lock (deployment not needed)").next(
        states.record("Record deployment not needed", Outcome.DUPLICATE, sfn.JsonPath.string_at("$.registration.reason"))
    ).next(sfn.Succeed(scope, "Deployment not needed"))
    deployment_needed = sfn.Choice(scope, "Deployment needed?").otherwise(deployment_not_needed)
    prepare_deployment_task.next(deployment_needed)
    return partial(deployment_needed.when, sfn.Condition.boolean_equals("$.registration.deploy", True))
