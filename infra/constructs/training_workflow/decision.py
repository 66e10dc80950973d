"""The decision on a trained model, under the deployment lock: evaluate it against the
champion, register it, and act on its approval status. Rejected and pending versions end here;
an approved one goes on to deployment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from functions.common.outcome import Outcome
from infra.constructs.training_workflow.lock import DeploymentLockStates
from infra.constructs.training_workflow.states import Exit, WorkflowStates, approval_event


@dataclass(frozen=True)
class Decision:
    approved_version_to_deploy: Exit  # the lock holder's branch for a person's approval event
    approved: Exit  # a registered version approved by policy
    unexpected_approval_status: Exit  # an approval status outside the contract, a defect


def decide(
    scope: Construct,
    states: WorkflowStates,
    lock: DeploymentLockStates,
    *,
    evaluate: lambda_.IFunction,
    register: lambda_.IFunction,
    after: Sequence[Exit],
) -> Decision:
    """Decide on the trained model where `after` leads (holding the lock since the execution
    started); a person's approval event, which `after` also leads here, is left for
    `Decision.approved_version_to_deploy`."""
    evaluate_model = states.invoke(
        "Evaluate model",
        evaluate,
        {
            "validation": sfn.JsonPath.object_at("$.validation"),
            "training_job_name": sfn.JsonPath.string_at("$.validation.training_job_name"),
            "execution_arn": sfn.JsonPath.string_at("$$.Execution.Id"),
        },
        "$.evaluation",
    )
    approved_version_to_deploy = sfn.Choice(scope, "Approved version to deploy?").otherwise(evaluate_model)
    for leads_here in after:
        leads_here(approved_version_to_deploy)
    register_version = states.invoke(
        "Register version",
        register,
        {
            "validation": sfn.JsonPath.object_at("$.validation"),
            "evaluation": sfn.JsonPath.object_at("$.evaluation"),
            "training_job_name": sfn.JsonPath.string_at("$.validation.training_job_name"),
            "execution_arn": sfn.JsonPath.string_at("$$.Execution.Id"),
        },
        "$.registration",
    )
    evaluate_model.next(register_version)
    model_rejected = lock.release("Release deployment lock (model rejected)").next(
        states.notify(
            "Notify model rejected",
            "Model from training job {} was rejected: {}",
            "$.validation.training_job_name",
            "$.evaluation.summary",
            subject="model rejected",
        )
    ).next(
        states.record("Record model rejected", Outcome.MODEL_REJECTED, sfn.JsonPath.string_at("$.evaluation.summary"))
    ).next(sfn.Succeed(scope, "Model rejected"))
    pending_approval = lock.release("Release deployment lock (pending approval)").next(
        states.notify(
            "Notify pending approval",
            "Model version {} ({}) is waiting for manual approval: {}",
            "$.registration.model_version",
            "$.registration.model_package_arn",
            "$.evaluation.summary",
            subject="model pending approval",
        )
    ).next(
        states.record(
            "Record pending approval",
            Outcome.PENDING_APPROVAL,
            sfn.JsonPath.format(
                "model version {} is waiting for manual approval",
                sfn.JsonPath.string_at("$.registration.model_version"),
            ),
        )
    ).next(sfn.Succeed(scope, "Pending approval"))
    unexpected_approval_status = lock.release("Release deployment lock (unexpected approval status)")
    approval_status = (
        sfn.Choice(scope, "Approval status?")
        .when(sfn.Condition.string_equals("$.registration.approval_status", "Rejected"), model_rejected)
        .when(sfn.Condition.string_equals("$.registration.approval_status", "PendingManualApproval"), pending_approval)
        .otherwise(unexpected_approval_status)
    )
    register_version.next(approval_status)
    return Decision(
        approved_version_to_deploy=partial(approved_version_to_deploy.when, approval_event()),
        approved=partial(
            approval_status.when, sfn.Condition.string_equals("$.registration.approval_status", "Approved")
        ),
        unexpected_approval_status=unexpected_approval_status.next,
    )
