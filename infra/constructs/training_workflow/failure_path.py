"""Where every failure goes: release the deployment lock, notify, fail the execution.

An execution that does not hold the lock fails the release's condition, which is caught: the
failure is notified either way."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.training_workflow.lock import DeploymentLockStates
from infra.constructs.training_workflow.states import Exit, WorkflowStates


def fail_pipeline(
    scope: Construct, states: WorkflowStates, lock: DeploymentLockStates, *, after: Sequence[Exit]
) -> None:
    """Build the failure path, route every task's uncaught errors to it, and fail the execution
    where `after` leads."""
    pipeline_failed = sfn.Fail(scope, "Pipeline failed", error="PipelineFailed", cause="A pipeline step failed")
    notify_failure = states.notify(
        "Notify pipeline failure",
        "Pipeline execution {} failed: {}",
        "$$.Execution.Name",
        "$.error.Cause",
        subject="pipeline failed",
        catch=False,
    )
    notify_failure.add_catch(pipeline_failed, errors=["States.ALL"], result_path="$.error")
    notify_failure.next(pipeline_failed)
    release_after_failure = lock.release("Release deployment lock (pipeline failed)", catch=False)
    release_after_failure.add_catch(notify_failure, errors=["States.ALL"], result_path="$.deployment_lock")
    release_after_failure.next(notify_failure)
    states.route_failures_to(release_after_failure)
    for leads_here in after:
        leads_here(pipeline_failed)
