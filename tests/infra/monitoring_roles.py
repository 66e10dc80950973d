"""Finding the monitors' functions, roles and policies in the synthesized template."""

from __future__ import annotations

from aws_cdk.assertions import Match


def function_id(synthesized, name: str) -> str:
    (logical_id,) = [
        logical_id
        for logical_id, function in synthesized.resources("AWS::Lambda::Function").items()
        if function["Properties"]["Handler"] == f"functions.{name}.handler.lambda_handler"
    ]
    return logical_id


def role_id(synthesized, name: str) -> str:
    function = synthesized.template_json["Resources"][function_id(synthesized, name)]
    return function["Properties"]["Role"]["Fn::GetAtt"][0]


def data_bucket_id(synthesized) -> str:
    return synthesized.template_json["Outputs"]["DataBucketName"]["Value"]["Ref"]


def data_object(synthesized, key: str) -> dict:
    return {"Fn::Join": ["", [{"Fn::GetAtt": [data_bucket_id(synthesized), "Arn"]}, f"/{key}"]]}


def capture_prefix(synthesized) -> str:
    return f"capture/{synthesized.config.deployment.endpoint_name}/"


def assert_role_allows(synthesized, name: str, *statements: dict) -> None:
    """The function's role holds each of `statements` exactly (Effect Allow added)."""
    for statement in statements:
        synthesized.template.has_resource_properties(
            "AWS::IAM::Policy",
            {
                "PolicyDocument": {"Statement": Match.array_with([Match.object_equals({"Effect": "Allow", **statement})])},
                "Roles": [{"Ref": role_id(synthesized, name)}],
            },
        )


def role_statements(synthesized, name: str) -> list[dict]:
    return [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id(synthesized, name)} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions_of(statement: dict) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def alarm_rule_names(synthesized) -> list[str]:
    (rule,) = [
        rule
        for rule in synthesized.resources("AWS::Events::Rule").values()
        if rule["Properties"].get("EventPattern", {}).get("source") == ["aws.cloudwatch"]
    ]
    return rule["Properties"]["EventPattern"]["detail"]["alarmName"]
