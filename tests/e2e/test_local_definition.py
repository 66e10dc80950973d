"""The state machine the local cloud executes is the definition in the synthesized template,
with only its CloudFormation references resolved to the local resources."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlops.local.cloud import LocalCloud
from mlops.local.moto_access import LOCAL_ACCOUNT_ID, LOCAL_REGION

pytestmark = pytest.mark.e2e

REPOSITORY_CONFIG = Path(__file__).resolve().parents[2] / "pipeline.json"


class TemplateReferences:
    """Resolves the intrinsics a definition string uses, from the deployed physical IDs."""

    PSEUDO = {"AWS::AccountId": LOCAL_ACCOUNT_ID, "AWS::Region": LOCAL_REGION, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}

    def __init__(self, template: dict, physical_ids: dict[str, str]) -> None:
        self.template, self.ids = template, physical_ids

    def __call__(self, value):
        if isinstance(value, list):
            return [self(item) for item in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            return self.PSEUDO.get(value["Ref"]) or self.ids[value["Ref"]]
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self(part)) for part in parts)
        if "Fn::Sub" in value:
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(self({"Ref": m.group(1)})), value["Fn::Sub"])
        if "Fn::FindInMap" in value:
            mapping, first, second = (self(part) for part in value["Fn::FindInMap"])
            return self.template["Mappings"][mapping][first][second]
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            assert attribute == "Arn"
            kind, physical = self.template["Resources"][logical_id]["Type"], self.ids[logical_id]
            return {
                "AWS::Lambda::Function": f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:function:{physical}",
                "AWS::IAM::Role": f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/{physical}",
                "AWS::KMS::Key": f"arn:aws:kms:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:key/{physical}",
            }[kind]
        return {key: self(item) for key, item in value.items()}


def test_the_executed_definition_is_the_synthesized_one_with_references_resolved():
    with LocalCloud(REPOSITORY_CONFIG) as cloud:
        template = cloud.app.template
        [(logical_id, machine)] = [
            (key, resource) for key, resource in template["Resources"].items()
            if resource["Type"] == "AWS::StepFunctions::StateMachine"
        ]
        resolve = TemplateReferences(template, cloud.deployed.physical_ids)
        expected = json.loads(resolve(machine["Properties"]["DefinitionString"]))

        executed = cloud.client("stepfunctions").describe_state_machine(
            stateMachineArn=cloud.deployed.physical_ids[logical_id]
        )

        assert json.loads(executed["definition"]) == expected
        assert executed["stateMachineArn"] == cloud.outputs.state_machine_arn
