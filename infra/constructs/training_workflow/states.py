"""The kinds of state every phase of the flow is made of: a Lambda invocation, a SageMaker
aws-sdk call, an SNS notification, the `$.result` record before a successful end, and the
Describe -> Choice -> Wait loop that waits for a SageMaker job. Each comes with its retries,
its timeout and its catch into the failure path."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aws_cdk import Duration, aws_lambda as lambda_, aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks
from constructs import Construct

from functions.common.outcome import Outcome
from infra.constructs.training_workflow.permissions import WorkflowArns

Exit = Callable[[sfn.IChainable], object]
"""An open branch of one phase: called with the state the next phase starts with, it leads
the branch there. Phases are built in the order an execution runs them, so a branch into a
later phase stays open until that phase exists."""

LAMBDA_RETRY_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
LAMBDA_RETRY_INTERVAL = Duration.seconds(2)
LAMBDA_RETRY_MAX_ATTEMPTS = 3
# Beyond the Lambda function's own timeout: queueing and cold start.
LAMBDA_TASK_MARGIN = Duration.minutes(1)
# Errors the SageMaker API model names reach Step Functions as SageMaker.<Name>Exception;
# throttling and internal errors are not in the model and arrive as the service's generic
# SageMaker.AmazonSageMakerException.
SAGEMAKER_RETRY_ERRORS = [
    "SageMaker.AmazonSageMakerException",
    "SageMaker.ResourceLimitExceededException",
    "SageMaker.ThrottlingException",
    "SageMaker.InternalFailure",
    "SageMaker.ServiceUnavailable",
]
SAGEMAKER_RETRY_INTERVAL = Duration.seconds(5)
SAGEMAKER_RETRY_MAX_ATTEMPTS = 5
SAGEMAKER_CALL_TIMEOUT = Duration.minutes(5)
# Creating a job under a name that already has one.
SAGEMAKER_JOB_EXISTS_ERROR = "SageMaker.ResourceInUseException"
NOTIFY_RETRY_INTERVAL = Duration.seconds(2)
NOTIFY_RETRY_MAX_ATTEMPTS = 3
NOTIFY_TIMEOUT = Duration.minutes(1)
RETRY_BACKOFF_RATE = 2.0
# The source of the Model Registry's approval events; any other event is an upload.
APPROVAL_EVENT_SOURCE = "aws.sagemaker"


def approval_event() -> sfn.Condition:
    # A Choice on a missing field fails the execution; an input without `source` is an upload.
    return sfn.Condition.and_(
        sfn.Condition.is_present("$.source"),
        sfn.Condition.string_equals("$.source", APPROVAL_EVENT_SOURCE),
    )


def lambda_task_timeout(function: lambda_.IFunction) -> sfn.Timeout:
    timeout = function.timeout if isinstance(function, lambda_.Function) and function.timeout else Duration.minutes(15)
    return sfn.Timeout.duration(timeout.plus(LAMBDA_TASK_MARGIN))


@dataclass(frozen=True)
class SageMakerJobWait:
    """How the states that wait for one kind of SageMaker job are named and where they read."""

    step: str  # names the waiting and failure states: "Wait for training", "Training failed"
    job: str  # names the job in its Describe state and messages: "Describe training job"
    api: str  # the API's noun: describeTrainingJob, TrainingJobName, TrainingJobStatus
    name_path: str
    result_path: str
    poll_interval_seconds: int


class WorkflowStates:
    """Makes the states of the training state machine, all in one scope so that each state's
    construct id is its name in the definition."""

    def __init__(self, scope: Construct, *, project: str, topic: sns.ITopic, arns: WorkflowArns) -> None:
        self._scope = scope
        self._project = project
        self._topic = topic
        self._arns = arns
        self._awaiting_failure_path: list[sfn.TaskStateBase] = []

    def invoke(
        self, name: str, function: lambda_.IFunction, payload: dict[str, object], result_path: str
    ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self._scope,
            name,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path=result_path,
            task_timeout=lambda_task_timeout(function),
        )
        task.add_retry(
            errors=LAMBDA_RETRY_ERRORS,
            interval=LAMBDA_RETRY_INTERVAL,
            max_attempts=LAMBDA_RETRY_MAX_ATTEMPTS,
            backoff_rate=RETRY_BACKOFF_RATE,
        )
        self.catch_all(task)
        return task

    def sagemaker_call(
        self,
        name: str,
        action: str,
        parameters: dict[str, object],
        *,
        result_path: str,
        result_selector: dict[str, object] | None = None,
    ) -> tasks.CallAwsService:
        task = tasks.CallAwsService(
            self._scope,
            name,
            service="sagemaker",
            action=action,
            iam_action=f"sagemaker:{action[0].upper()}{action[1:]}",
            iam_resources=self._arns.sagemaker_resources(action),
            parameters=parameters,
            result_selector=result_selector,
            result_path=result_path,
            task_timeout=sfn.Timeout.duration(SAGEMAKER_CALL_TIMEOUT),
        )
        task.add_retry(
            errors=SAGEMAKER_RETRY_ERRORS,
            interval=SAGEMAKER_RETRY_INTERVAL,
            max_attempts=SAGEMAKER_RETRY_MAX_ATTEMPTS,
            backoff_rate=RETRY_BACKOFF_RATE,
        )
        self.catch_all(task)
        return task

    def notify(self, name: str, template: str, *paths: str, subject: str, catch: bool = True) -> tasks.SnsPublish:
        arguments = [path if not path.startswith("$") else sfn.JsonPath.string_at(path) for path in paths]
        task = tasks.SnsPublish(
            self._scope,
            name,
            topic=self._topic,
            subject=f"{self._project}: {subject}",
            message=sfn.TaskInput.from_text(sfn.JsonPath.format(template, *arguments)),
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(NOTIFY_TIMEOUT),
        )
        # A notification is safe to repeat; any failure is worth another try.
        task.add_retry(
            errors=["States.TaskFailed"],
            interval=NOTIFY_RETRY_INTERVAL,
            max_attempts=NOTIFY_RETRY_MAX_ATTEMPTS,
            backoff_rate=RETRY_BACKOFF_RATE,
        )
        if catch:
            self.catch_all(task)
        return task

    def record(self, name: str, outcome: Outcome, reason: str) -> sfn.Pass:
        return sfn.Pass(
            self._scope, name, parameters={"outcome": outcome.value, "reason": reason}, result_path="$.result"
        )

    def catch_all(self, task: sfn.TaskStateBase) -> None:
        """Send every error of `task` that no other catch takes to the failure path."""
        self._awaiting_failure_path.append(task)

    def route_failures_to(self, failure_path: sfn.IChainable) -> None:
        # Added once the failure path exists, after every other catch of each task: Step
        # Functions takes the first matching catch and wants States.ALL last.
        for task in self._awaiting_failure_path:
            task.add_catch(failure_path, errors=["States.ALL"], result_path="$.error")
        self._awaiting_failure_path.clear()

    def wait_for_job(
        self,
        starts: Sequence[tasks.CallAwsService],
        wait: SageMakerJobWait,
        *,
        release_lock: sfn.TaskStateBase,
    ) -> Exit:
        """After any of `starts`: Describe -> Choice -> Wait until the job ends; Failed and
        Stopped release the deployment lock, notify and fail the execution. Returns the branch
        a Completed job takes."""
        scope = self._scope
        describe_action = f"describe{wait.api}"
        name = {f"{wait.api}Name": sfn.JsonPath.string_at(wait.name_path)}
        describe = self.sagemaker_call(
            f"Describe {wait.job}",
            describe_action,
            name,
            result_selector={"status": sfn.JsonPath.string_at(f"$.{wait.api}Status")},
            result_path=wait.result_path,
        )
        # A redriven execution finds its job already created: describe it instead. The error
        # lands in the result path, which the describe overwrites.
        for start in starts:
            start.add_catch(describe, errors=[SAGEMAKER_JOB_EXISTS_ERROR], result_path=wait.result_path)
            start.next(describe)
        notify_failed = self.notify(
            f"Notify {wait.step} failed",
            f"{wait.job.capitalize()} {{}} did not complete: {{}}",
            wait.name_path,
            sfn.JsonPath.json_to_string(sfn.JsonPath.object_at(wait.result_path)),
            subject=f"{wait.step} failed",
        ).next(
            sfn.Fail(
                scope,
                f"{wait.step.capitalize()} failed",
                error=f"{wait.step.title().replace(' ', '')}Failed",
                cause=f"The {wait.job} did not complete",
            )
        )
        describe_failure = self.sagemaker_call(
            f"Describe {wait.step} failure",
            describe_action,
            name,
            result_selector={
                "status": sfn.JsonPath.string_at(f"$.{wait.api}Status"),
                "reason": sfn.JsonPath.string_at("$.FailureReason"),
            },
            result_path=wait.result_path,
        )
        release_lock.next(notify_failed)
        describe_failure.next(release_lock)
        wait_for_job = sfn.Wait(
            scope, f"Wait for {wait.step}", time=sfn.WaitTime.duration(Duration.seconds(wait.poll_interval_seconds))
        )
        wait_for_job.next(describe)
        status = f"{wait.result_path}.status"

        def when_completed(completed: sfn.IChainable) -> None:
            describe.next(
                sfn.Choice(scope, f"{wait.step.capitalize()} finished?")
                .when(sfn.Condition.string_equals(status, "Completed"), completed)
                .when(sfn.Condition.string_equals(status, "Failed"), describe_failure)
                .when(sfn.Condition.string_equals(status, "Stopped"), release_lock)
                .otherwise(wait_for_job)
            )

        return when_completed
