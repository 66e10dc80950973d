"""The deployment lock: validation, training, the champion/challenger decision and the
deployment are one critical section per endpoint, so an upload is drift-checked against, and
trained and judged against, the version that serves when it is decided.

An execution acquires the lock (infra/constructs/deployment_lock.py) as its first state, and
releases it on every path that ends after that, including the failure path (where it may not
hold it). A conflicting execution reads the
lock's owner and waits while the owner is RUNNING; an owner that is not (timed out, aborted,
gone) is taken over. The lock belongs to an execution ARN, which a redriven execution keeps,
so re-acquiring one's own lock succeeds.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, aws_dynamodb as dynamodb
from aws_cdk import aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constructs.deployment_lock import LOCK_ACQUIRED_AT_ATTRIBUTE, LOCK_OWNER_ATTRIBUTE, LOCK_PARTITION_KEY
from infra.constructs.training_workflow.states import RETRY_BACKOFF_RATE, Exit, WorkflowStates

# The DynamoDB integration names errors DynamoDB.<error code>; errors outside the API model
# arrive as DynamoDB.AmazonDynamoDBException.
DYNAMODB_RETRY_ERRORS = [
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.ThrottlingException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.InternalServerError",
    "DynamoDB.AmazonDynamoDBException",
]
LOCK_CONFLICT_ERROR = "DynamoDB.ConditionalCheckFailedException"
# DescribeExecution of an owner whose history has expired (90 days after it closed).
LOCK_OWNER_GONE_ERROR = "Sfn.ExecutionDoesNotExistException"
# Acquire and release both require the lock to be free or this execution's: an acquire that
# is retried or redriven finds its own item, a retried release finds none, and only another
# owner makes either fail.
LOCK_FREE_OR_OWN_CONDITION = f"attribute_not_exists({LOCK_PARTITION_KEY}) OR #owner = :execution"
LOCK_STALE_OWNER_CONDITION = "#owner = :stale_owner"
LOCK_CALL_TIMEOUT = Duration.minutes(1)
LOCK_RETRY_INTERVAL = Duration.seconds(2)
LOCK_RETRY_MAX_ATTEMPTS = 3


class DeploymentLockStates:
    """Makes the states that acquire and release one endpoint's deployment lock."""

    def __init__(
        self,
        scope: Construct,
        states: WorkflowStates,
        *,
        table: dynamodb.ITable,
        endpoint_name: str,
        execution_arns: str,
        poll_interval_seconds: int,
    ) -> None:
        self._scope = scope
        self._states = states
        self._table = table
        self._endpoint_name = endpoint_name
        self._execution_arns = execution_arns
        self._poll_interval_seconds = poll_interval_seconds

    def acquire(self, *, after: Sequence[Exit]) -> Exit:
        """Acquire the lock where `after` leads; returns the branch that holds it.

        A conflict reads the item and describes its owner: a RUNNING owner is waited for, any
        other (or one whose history has expired) is taken over with a put conditioned on that
        owner, so of several executions seeing the same stale owner exactly one takes over.
        """
        scope = self._scope
        acquire = self._put(
            "Acquire deployment lock",
            LOCK_FREE_OR_OWN_CONDITION,
            {":execution": sfn.JsonPath.string_at("$$.Execution.Id")},
        )
        read_lock = tasks.DynamoGetItem(
            scope,
            "Read deployment lock",
            table=self._table,
            key=self._key(),
            consistent_read=True,
            result_path="$.deployment_lock",
            task_timeout=sfn.Timeout.duration(LOCK_CALL_TIMEOUT),
        )
        _retry_lock_call(read_lock)
        self._states.catch_all(read_lock)
        describe_owner = tasks.CallAwsService(
            scope,
            "Describe lock owner",
            service="sfn",
            action="describeExecution",
            iam_action="states:DescribeExecution",
            iam_resources=[self._execution_arns],
            parameters={"ExecutionArn": sfn.JsonPath.string_at(f"$.deployment_lock.Item.{LOCK_OWNER_ATTRIBUTE}.S")},
            # aws-sdk results are PascalCase whatever the API's casing.
            result_selector={"status": sfn.JsonPath.string_at("$.Status")},
            result_path="$.deployment_lock.owner",
            task_timeout=sfn.Timeout.duration(LOCK_CALL_TIMEOUT),
        )
        # A missing owner is an answer, not a fault: it goes straight to the take-over.
        describe_owner.add_retry(errors=[LOCK_OWNER_GONE_ERROR], max_attempts=0)
        # A read is safe to repeat; any other failure is worth another try.
        describe_owner.add_retry(
            errors=["States.TaskFailed"],
            interval=LOCK_RETRY_INTERVAL,
            max_attempts=LOCK_RETRY_MAX_ATTEMPTS,
            backoff_rate=RETRY_BACKOFF_RATE,
        )
        take_over = self._put(
            "Take over deployment lock",
            LOCK_STALE_OWNER_CONDITION,
            {":stale_owner": sfn.JsonPath.string_at(f"$.deployment_lock.Item.{LOCK_OWNER_ATTRIBUTE}.S")},
        )
        describe_owner.add_catch(take_over, errors=[LOCK_OWNER_GONE_ERROR], result_path="$.deployment_lock.owner")
        self._states.catch_all(describe_owner)
        wait_for_lock = sfn.Wait(
            scope,
            "Wait for deployment lock",
            time=sfn.WaitTime.duration(Duration.seconds(self._poll_interval_seconds)),
        )

        acquire.add_catch(read_lock, errors=[LOCK_CONFLICT_ERROR], result_path="$.deployment_lock")
        # Another execution took over first, or the owner released meanwhile: start again.
        take_over.add_catch(acquire, errors=[LOCK_CONFLICT_ERROR], result_path="$.deployment_lock")
        for task in (acquire, take_over):
            self._states.catch_all(task)
        read_lock.next(
            sfn.Choice(scope, "Lock still held?")
            .when(sfn.Condition.is_present("$.deployment_lock.Item"), describe_owner)
            # Released between the failed put and the read.
            .otherwise(acquire)
        )
        describe_owner.next(
            sfn.Choice(scope, "Lock owner running?")
            .when(sfn.Condition.string_equals("$.deployment_lock.owner.status", "RUNNING"), wait_for_lock)
            .otherwise(take_over)
        )
        wait_for_lock.next(acquire)
        for leads_here in after:
            leads_here(acquire)

        def holding(next_state: sfn.IChainable) -> None:
            acquire.next(next_state)
            take_over.next(next_state)

        return holding

    def release(self, name: str, *, catch: bool = True) -> tasks.DynamoDeleteItem:
        """Delete the lock item unless another execution owns it."""
        task = tasks.DynamoDeleteItem(
            self._scope,
            name,
            table=self._table,
            key=self._key(),
            condition_expression=LOCK_FREE_OR_OWN_CONDITION,
            expression_attribute_names={"#owner": LOCK_OWNER_ATTRIBUTE},
            expression_attribute_values={
                ":execution": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$$.Execution.Id"))
            },
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(LOCK_CALL_TIMEOUT),
        )
        _retry_lock_call(task)
        if catch:
            self._states.catch_all(task)
        return task

    def _put(self, name: str, condition: str, values: dict[str, str]) -> tasks.DynamoPutItem:
        task = tasks.DynamoPutItem(
            self._scope,
            name,
            table=self._table,
            item={
                **self._key(),
                LOCK_OWNER_ATTRIBUTE: tasks.DynamoAttributeValue.from_string(
                    sfn.JsonPath.string_at("$$.Execution.Id")
                ),
                LOCK_ACQUIRED_AT_ATTRIBUTE: tasks.DynamoAttributeValue.from_string(
                    sfn.JsonPath.string_at("$$.State.EnteredTime")
                ),
            },
            condition_expression=condition,
            expression_attribute_names={"#owner": LOCK_OWNER_ATTRIBUTE},
            expression_attribute_values={
                placeholder: tasks.DynamoAttributeValue.from_string(value) for placeholder, value in values.items()
            },
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(LOCK_CALL_TIMEOUT),
        )
        _retry_lock_call(task)
        return task

    def _key(self) -> dict[str, tasks.DynamoAttributeValue]:
        return {LOCK_PARTITION_KEY: tasks.DynamoAttributeValue.from_string(self._endpoint_name)}


def _retry_lock_call(task: sfn.TaskStateBase) -> None:
    task.add_retry(
        errors=DYNAMODB_RETRY_ERRORS,
        interval=LOCK_RETRY_INTERVAL,
        max_attempts=LOCK_RETRY_MAX_ATTEMPTS,
        backoff_rate=RETRY_BACKOFF_RATE,
    )
