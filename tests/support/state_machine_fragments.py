"""Runs states of the synthesized state machine in moto's Step Functions interpreter."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws

INTERPRETING_MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}
EXECUTION_POLL_SECONDS = 0.05
EXECUTION_POLLS = 400


class FragmentInterpreter:
    """State machines made of definition fragments, run by moto as one role; build it under
    `mock_aws(config=INTERPRETING_MOTO_CONFIG)`, as `fragment_interpreter()` does."""

    def __init__(self) -> None:
        self.sfn = boto3.client("stepfunctions")
        self.role_arn = boto3.client("iam").create_role(RoleName="machine", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    def create_machine(self, name: str, definition: dict[str, Any]) -> str:
        return self.sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=self.role_arn)[
            "stateMachineArn"
        ]

    def start(self, machine_arn: str, name: str | None = None, machine_input: dict[str, Any] | None = None) -> str:
        return self.sfn.start_execution(
            stateMachineArn=machine_arn, name=name or uuid.uuid4().hex, input=json.dumps(machine_input or {})
        )["executionArn"]

    def entered(self, execution_arn: str) -> list[str]:
        """The names of the states the execution entered, in order."""
        return [
            event["stateEnteredEventDetails"]["name"]
            for event in self.sfn.get_execution_history(executionArn=execution_arn)["events"]
            if "stateEnteredEventDetails" in event
        ]

    def wait_until(self, predicate: Callable[[], bool]) -> None:
        for _ in range(EXECUTION_POLLS):
            if predicate():
                return
            time.sleep(EXECUTION_POLL_SECONDS)
        raise AssertionError("the execution did not get there")

    def finish(self, execution_arn: str) -> dict[str, Any]:
        """DescribeExecution's answer once the execution has stopped running."""
        self.wait_until(lambda: self.sfn.describe_execution(executionArn=execution_arn)["status"] != "RUNNING")
        return self.sfn.describe_execution(executionArn=execution_arn)

    def run(self, states: dict[str, Any], start_at: str, machine_input: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Run `states` from `start_at` to success; returns (output, entered states)."""
        machine_arn = self.create_machine(f"fragment-{uuid.uuid4().hex}", {"StartAt": start_at, "States": states})
        execution_arn = self.start(machine_arn, machine_input=machine_input)
        result = self.finish(execution_arn)
        assert result["status"] == "SUCCEEDED", result
        return json.loads(result["output"]), self.entered(execution_arn)


@contextmanager
def fragment_interpreter() -> Iterator[FragmentInterpreter]:
    """A fresh moto account whose Step Functions interprets what it starts."""
    with mock_aws(config=INTERPRETING_MOTO_CONFIG):
        yield FragmentInterpreter()


def run_fragment(states: dict[str, Any], start_at: str, machine_input: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Run states of the synthesized definition in a fresh moto account; returns (output, entered states)."""
    with fragment_interpreter() as interpreter:
        return interpreter.run(states, start_at, machine_input)
