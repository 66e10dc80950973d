"""The deployment lock: its table, the states that acquire and release it, what the state
machine's role may do with it, and the lock protocol run in moto's Step Functions interpreter."""

from __future__ import annotations

import copy
import uuid

import boto3
import pytest
from aws_cdk.assertions import Match

from mlops.local.standins import aws_sdk_casing_patches
from tests.support.state_machine_fragments import FragmentInterpreter, fragment_interpreter

HOLDING_STATES = ("Acquire deployment lock", "Take over deployment lock")
FAILURE_RELEASE = "Release deployment lock (pipeline failed)"
RELEASES = {
    "Release deployment lock (duplicate)": "Record duplicate",
    "Release deployment lock (data rejected)": "Notify data rejected",
    "Release deployment lock (validation job failed)": "Notify validation job failed",
    "Release deployment lock (training failed)": "Notify training failed",
    "Release deployment lock (model rejected)": "Notify model rejected",
    "Release deployment lock (pending approval)": "Notify pending approval",
    "Release deployment lock (deployment not needed)": "Record deployment not needed",
    "Release deployment lock (unexpected approval status)": "Pipeline failed",
    "Release deployment lock (deployed)": "Notify deployed",
    "Release deployment lock (rolled back)": "Notify deployment rolled back",
    "Release deployment lock (deployment failed)": "Notify deployment failed",
    FAILURE_RELEASE: "Notify pipeline failure",
}
FREE_OR_OWN = "attribute_not_exists(endpoint_name) OR #owner = :execution"
DYNAMODB_TRANSIENT_ERRORS = {
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.ThrottlingException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.InternalServerError",
    "DynamoDB.AmazonDynamoDBException",
}
CONFLICT = "DynamoDB.ConditionalCheckFailedException"


@pytest.fixture(scope="module")
def states(synthesized):
    return synthesized.definition()["States"]


@pytest.fixture(scope="module")
def lock_table_id(synthesized):
    table_ids = [
        logical_id
        for logical_id, table in synthesized.resources("AWS::DynamoDB::Table").items()
        if table["Properties"]["KeySchema"] == [{"AttributeName": "endpoint_name", "KeyType": "HASH"}]
    ]
    (table_id,) = table_ids
    return table_id


def _successors(state) -> set[str]:
    names = {state.get("Next"), state.get("Default")}
    names |= {choice["Next"] for choice in state.get("Choices", [])}
    names |= {catch["Next"] for catch in state.get("Catch", [])}
    return {name for name in names if name}


def _actions(statement) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def _is_release(state) -> bool:
    return state.get("Resource", "").endswith(":states:::dynamodb:deleteItem")


def _ends_reached_while_holding(states) -> set[str]:
    """Succeed/Fail states reachable from a successful acquisition without passing a release."""
    seen, ends = set(), set()
    frontier = [states[name]["Next"] for name in HOLDING_STATES]
    while frontier:
        name = frontier.pop()
        if name in seen or _is_release(states[name]):
            continue
        seen.add(name)
        if states[name]["Type"] in {"Succeed", "Fail"}:
            ends.add(name)
        frontier.extend(_successors(states[name]))
    return ends


def test_lock_table_is_encrypted_with_the_pipeline_key_recoverable_and_on_demand(synthesized, lock_table_id):
    key_id, _ = synthesized.only("AWS::KMS::Key")

    synthesized.template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": Match.object_like(
                {
                    "KeySchema": [{"AttributeName": "endpoint_name", "KeyType": "HASH"}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "SSESpecification": {
                        "SSEEnabled": True,
                        "SSEType": "KMS",
                        "KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
                    },
                }
            ),
        },
    )
    assert lock_table_id.startswith("DeploymentLockTable")


def test_validation_the_decision_and_the_deployment_start_only_after_acquiring_the_lock(synthesized, states):
    # The lock comes first, so racing uploads are drift-checked and judged one at a time
    # against the version serving; only a batch upload to score goes around it.
    assert synthesized.definition()["StartAt"] == "Batch upload?"
    assert states["Batch upload?"]["Default"] == "Acquire deployment lock"
    for name in HOLDING_STATES:
        assert states[name]["Next"] == "Which event?"
    assert states["Which event?"]["Choices"][0]["Next"] == "Approved version to deploy?"
    assert states["Which event?"]["Default"] == "Which validation route?"
    assert states["Training finished?"]["Choices"][0] == {
        "Variable": "$.training.status",
        "StringEquals": "Completed",
        "Next": "Approved version to deploy?",
    }
    route = states["Approved version to deploy?"]
    assert (route["Choices"][0]["Next"], route["Default"]) == ("Prepare deployment", "Evaluate model")
    entries = {
        name
        for name, state in states.items()
        for successor in _successors(state)
        if successor in {"Evaluate model", "Prepare deployment"}
    }
    assert entries == {"Approved version to deploy?"}


def test_acquire_takes_a_free_or_its_own_lock_and_names_this_execution(states, lock_table_id):
    acquire = states["Acquire deployment lock"]

    assert acquire["Resource"] == "arn:<AWS::Partition>:states:::dynamodb:putItem"
    parameters = acquire["Parameters"]
    assert parameters["TableName"] == f"<{lock_table_id}>"
    assert parameters["Item"]["endpoint_name"] == {"S": "mlops-endpoint"}
    assert parameters["Item"]["owner"] == {"S.$": "$$.Execution.Id"}
    assert parameters["ConditionExpression"] == FREE_OR_OWN
    assert parameters["ExpressionAttributeNames"] == {"#owner": "owner"}
    assert parameters["ExpressionAttributeValues"] == {":execution": {"S.$": "$$.Execution.Id"}}
    assert acquire["ResultPath"] is None


def test_a_conflict_waits_for_a_running_owner_and_takes_over_any_other(synthesized, states):
    acquire, take_over = states["Acquire deployment lock"], states["Take over deployment lock"]
    assert acquire["Catch"][0] == {
        "ErrorEquals": [CONFLICT],
        "ResultPath": "$.deployment_lock",
        "Next": "Read deployment lock",
    }
    read = states["Read deployment lock"]
    assert read["Resource"] == "arn:<AWS::Partition>:states:::dynamodb:getItem"
    assert read["Parameters"]["ConsistentRead"] is True
    assert read["Next"] == "Lock still held?"
    held = states["Lock still held?"]
    assert held["Choices"] == [{"Variable": "$.deployment_lock.Item", "IsPresent": True, "Next": "Describe lock owner"}]
    assert held["Default"] == "Acquire deployment lock"

    describe = states["Describe lock owner"]
    assert describe["Resource"] == "arn:<AWS::Partition>:states:::aws-sdk:sfn:describeExecution"
    assert describe["Parameters"] == {"ExecutionArn.$": "$.deployment_lock.Item.owner.S"}
    assert describe["ResultSelector"] == {"status.$": "$.Status"}
    assert describe["Catch"][0] == {
        "ErrorEquals": ["Sfn.ExecutionDoesNotExistException"],
        "ResultPath": "$.deployment_lock.owner",
        "Next": "Take over deployment lock",
    }
    running = states["Lock owner running?"]
    assert running["Choices"] == [
        {"Variable": "$.deployment_lock.owner.status", "StringEquals": "RUNNING", "Next": "Wait for deployment lock"}
    ]
    assert running["Default"] == "Take over deployment lock"
    assert states["Wait for deployment lock"] == {
        "Type": "Wait",
        "Seconds": synthesized.config.deployment.poll_interval_seconds,
        "Next": "Acquire deployment lock",
    }

    assert take_over["Parameters"]["ConditionExpression"] == "#owner = :stale_owner"
    assert take_over["Parameters"]["ExpressionAttributeValues"] == {
        ":stale_owner": {"S.$": "$.deployment_lock.Item.owner.S"}
    }
    assert take_over["Parameters"]["Item"]["owner"] == {"S.$": "$$.Execution.Id"}
    assert take_over["Catch"][0] == {
        "ErrorEquals": [CONFLICT],
        "ResultPath": "$.deployment_lock",
        "Next": "Acquire deployment lock",
    }


def test_lock_calls_retry_transient_errors_but_not_a_conflict(states):
    for name in (*HOLDING_STATES, "Read deployment lock", *RELEASES):
        (retry,) = states[name]["Retry"]
        assert set(retry["ErrorEquals"]) == DYNAMODB_TRANSIENT_ERRORS, name
        assert states[name]["TimeoutSeconds"] > 0, name
    never, retried = states["Describe lock owner"]["Retry"]
    assert never == {"ErrorEquals": ["Sfn.ExecutionDoesNotExistException"], "MaxAttempts": 0}
    assert retried["ErrorEquals"] == ["States.TaskFailed"]


def test_every_release_deletes_only_a_free_or_own_lock_and_continues_its_path(states, lock_table_id):
    releases = {name for name, state in states.items() if _is_release(state)}

    assert releases == set(RELEASES)
    for name, following in RELEASES.items():
        state = states[name]
        assert state["Next"] == following, name
        assert state["Parameters"] == {
            "Key": {"endpoint_name": {"S": "mlops-endpoint"}},
            "TableName": f"<{lock_table_id}>",
            "ConditionExpression": FREE_OR_OWN,
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {":execution": {"S.$": "$$.Execution.Id"}},
        }, name
        assert state["ResultPath"] is None, name
    # On the failure path the release may not hold the lock: any error still notifies.
    assert states[FAILURE_RELEASE]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.deployment_lock", "Next": "Notify pipeline failure"}
    ]


def test_every_end_reached_while_holding_the_lock_is_preceded_by_a_release(states):
    assert _ends_reached_while_holding(states) == set()

    # The walk finds an end when one release is bypassed.
    bypassed = copy.deepcopy(states)
    bypassed["Endpoint ready?"]["Choices"][0]["Next"] = RELEASES["Release deployment lock (deployed)"]
    assert _ends_reached_while_holding(bypassed) == {"Deployed"}


def test_state_machine_role_reaches_only_the_lock_table_and_this_state_machines_executions(synthesized, lock_table_id):
    (machine,) = synthesized.resources("AWS::StepFunctions::StateMachine").values()
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    table_arn = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":dynamodb:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":table/",
                {"Ref": lock_table_id},
            ],
        ]
    }
    executions = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":states:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":execution:mlops-training-pipeline:*",
            ],
        ]
    }

    synthesized.template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": role_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"],
                            "Effect": "Allow",
                            "Resource": table_arn,
                        },
                        {"Action": "states:DescribeExecution", "Effect": "Allow", "Resource": executions},
                    ]
                )
            },
        },
    )
    statements = [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    lock_statements = [
        statement
        for statement in statements
        if any(action.startswith(("dynamodb:", "states:")) for action in _actions(statement))
    ]
    assert [statement["Resource"] for statement in lock_statements] == [table_arn, executions]


# ---------------------------------------------------------------- the protocol in moto


ACQUISITION_STATES = (
    "Acquire deployment lock",
    "Read deployment lock",
    "Lock still held?",
    "Describe lock owner",
    "Lock owner running?",
    "Wait for deployment lock",
    "Take over deployment lock",
)
LOCK_WAIT_SECONDS = 1


def _fragment(states, names: tuple[str, ...], table_name: str) -> dict:
    """These states, runnable in moto: the table resolved, the states they lead to stubbed."""
    fragment = {name: copy.deepcopy(states[name]) for name in names}
    for state in fragment.values():
        if "Resource" in state:
            state["Resource"] = state["Resource"].replace("arn:<AWS::Partition>:", "arn:aws:")
        if "TableName" in state.get("Parameters", {}):
            state["Parameters"]["TableName"] = table_name
        if state["Type"] == "Wait":
            state["Seconds"] = LOCK_WAIT_SECONDS
    for name in {successor for state in list(fragment.values()) for successor in _successors(state)} - set(fragment):
        fragment[name] = {"Type": "Fail", "Error": "Failed"} if name == FAILURE_RELEASE else {"Type": "Succeed"}
    return {"StartAt": names[0], "States": fragment}


class LockProtocol:
    """A lock table and the synthesized acquisition states as a state machine, in moto."""

    def __init__(self, states, interpreter: FragmentInterpreter) -> None:
        self.dynamodb = boto3.client("dynamodb")
        self.interpreter = interpreter
        self.table = "deployment-lock"
        self.dynamodb.create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "endpoint_name", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "endpoint_name", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.machine = self.machine_for("lock", _fragment(states, ACQUISITION_STATES, self.table))

    def machine_for(self, name: str, definition: dict) -> str:
        return self.interpreter.create_machine(name, definition)

    def hold(self, owner: str) -> None:
        self.dynamodb.put_item(
            TableName=self.table, Item={"endpoint_name": {"S": "mlops-endpoint"}, "owner": {"S": owner}}
        )

    def owner(self) -> str | None:
        item = self.dynamodb.get_item(TableName=self.table, Key={"endpoint_name": {"S": "mlops-endpoint"}}).get("Item")
        return item["owner"]["S"] if item else None

    def start(self, name: str | None = None, machine: str | None = None) -> str:
        return self.interpreter.start(machine or self.machine, name)

    def finish(self, execution_arn: str) -> tuple[str, list[str]]:
        return self.interpreter.finish(execution_arn)["status"], self.interpreter.entered(execution_arn)

    def execution_arn(self, name: str) -> str:
        return self.machine.replace(":stateMachine:", ":execution:") + f":{name}"


@pytest.fixture
def protocol(states, monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    # The local runtime's translation of aws-sdk casing, which moto's interpreter lacks.
    for target, attribute, replacement in aws_sdk_casing_patches():
        monkeypatch.setattr(target, attribute, replacement)
    with fragment_interpreter() as interpreter:
        yield LockProtocol(states, interpreter)


def test_a_free_lock_is_acquired_and_names_the_execution(protocol):
    execution = protocol.start()

    status, entered = protocol.finish(execution)

    assert status == "SUCCEEDED"
    assert entered == ["Acquire deployment lock", "Which event?"]
    assert protocol.owner() == execution


def test_an_execution_reacquires_its_own_lock(protocol):
    # Given the lock names the execution already (a retried put, a redriven execution)
    name = uuid.uuid4().hex
    protocol.hold(protocol.execution_arn(name))

    status, entered = protocol.finish(protocol.start(name))

    assert status == "SUCCEEDED"
    assert entered == ["Acquire deployment lock", "Which event?"]


def test_a_lock_whose_owner_no_longer_exists_is_taken_over(protocol):
    protocol.hold(protocol.execution_arn("expired-long-ago"))

    execution = protocol.start()
    status, entered = protocol.finish(execution)

    assert status == "SUCCEEDED"
    assert entered == [
        "Acquire deployment lock",
        "Read deployment lock",
        "Lock still held?",
        "Describe lock owner",
        "Take over deployment lock",
        "Which event?",
    ]
    assert protocol.owner() == execution


def test_a_running_owner_is_waited_for_and_taken_over_once_it_stops_without_releasing(protocol):
    # Given the lock is held by an execution that is still running
    deploying = {"StartAt": "Deploy", "States": {"Deploy": {"Type": "Wait", "Seconds": 600, "End": True}}}
    owner = protocol.start(machine=protocol.machine_for("owner", deploying))
    protocol.hold(owner)

    # When another execution wants the lock, it waits
    contender = protocol.start()
    protocol.interpreter.wait_until(lambda: "Wait for deployment lock" in protocol.interpreter.entered(contender))
    assert protocol.owner() == owner

    # And once the owner is aborted without releasing, the contender takes the lock over
    protocol.interpreter.sfn.stop_execution(executionArn=owner)
    status, entered = protocol.finish(contender)

    assert status == "SUCCEEDED"
    assert entered[:6] == [
        "Acquire deployment lock",
        "Read deployment lock",
        "Lock still held?",
        "Describe lock owner",
        "Lock owner running?",
        "Wait for deployment lock",
    ]
    assert entered[-3:] == ["Lock owner running?", "Take over deployment lock", "Which event?"]
    assert protocol.owner() == contender


@pytest.mark.parametrize(
    ("held_by_self", "expected_status", "expected_owner"), [(True, "SUCCEEDED", None), (False, "FAILED", "other")]
)
def test_a_release_deletes_only_its_own_lock(states, protocol, held_by_self, expected_status, expected_owner):
    release = "Release deployment lock (deployed)"
    machine = protocol.machine_for("release", _fragment(states, (release,), protocol.table))
    name = uuid.uuid4().hex
    protocol.hold(machine.replace(":stateMachine:", ":execution:") + f":{name}" if held_by_self else "other")

    status, entered = protocol.finish(protocol.start(name, machine))

    assert status == expected_status
    assert entered[-1] == ("Notify deployed" if held_by_self else FAILURE_RELEASE)
    assert protocol.owner() == expected_owner
