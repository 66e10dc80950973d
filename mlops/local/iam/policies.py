"""The synthesized stack's policies with their references resolved to the deployed resources:
the identity policies of each role, and the resource policies the template defines (bucket
policies, the key policy, the topic and queue policies, the functions' permissions).

They are read from the template, resolved with the deployed stack's own resource map. The bucket,
topic and queue policies are not given to moto: its CloudFormation skips bucket policies, and its
S3 evaluates a bucket policy without its conditions (the TLS-only deny would refuse every call)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops.local import moto_access

RESOURCE_POLICY_TYPES = ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy")


@dataclass
class StackPolicies:
    # role ARN -> [{"name": ..., "policy": document}]
    identity: dict[str, list[dict[str, Any]]]
    # resource ARN (bucket, key, topic, queue, function) -> policy document
    resource: dict[str, dict[str, Any]]


def stack_policies(template: dict[str, Any], stack_name: str) -> StackPolicies:
    resolve = _resolver(stack_name)
    resources = template.get("Resources", {})
    identity: dict[str, list[dict[str, Any]]] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::IAM::Role":
            arn = resolve({"Fn::GetAtt": [logical_id, "Arn"]})
            identity.setdefault(arn, [])
            for inline in resource.get("Properties", {}).get("Policies", []):
                identity[arn].append({"name": inline["PolicyName"], "policy": resolve(inline["PolicyDocument"])})
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        properties = resource["Properties"]
        document = resolve(properties["PolicyDocument"])
        for role in properties.get("Roles", []):
            role_logical_id = role["Ref"]
            arn = resolve({"Fn::GetAtt": [role_logical_id, "Arn"]})
            identity.setdefault(arn, []).append({"name": properties.get("PolicyName", logical_id), "policy": document})
    return StackPolicies(identity, _resource_policies(resources, resolve))


def _resource_policies(resources: dict[str, Any], resolve: Any) -> dict[str, dict[str, Any]]:
    policies: dict[str, dict[str, Any]] = {}
    for logical_id, resource in resources.items():
        kind, properties = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::S3::BucketPolicy":
            policies[f"arn:aws:s3:::{resolve(properties['Bucket'])}"] = resolve(properties["PolicyDocument"])
        elif kind == "AWS::SNS::TopicPolicy":
            for topic in properties["Topics"]:
                policies[resolve(topic)] = resolve(properties["PolicyDocument"])
        elif kind == "AWS::SQS::QueuePolicy":
            for queue_url in properties["Queues"]:
                policies[_queue_arn(resolve(queue_url))] = resolve(properties["PolicyDocument"])
        elif kind == "AWS::KMS::Key":
            policies[resolve({"Fn::GetAtt": [logical_id, "Arn"]})] = resolve(properties["KeyPolicy"])
        elif kind == "AWS::Lambda::Permission":
            function_arn = resolve(properties["FunctionName"])
            statement = _lambda_permission_statement(logical_id, function_arn, properties, resolve)
            policy = policies.setdefault(function_arn, {"Version": "2012-10-17", "Statement": []})
            policy["Statement"].append(statement)
    return policies


def _lambda_permission_statement(sid: str, function_arn: str, properties: dict[str, Any], resolve: Any) -> dict[str, Any]:
    """The statement Lambda's AddPermission writes for an AWS::Lambda::Permission."""
    principal = resolve(properties["Principal"])
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
        "Action": resolve(properties["Action"]),
        "Resource": function_arn,
    }
    conditions: dict[str, Any] = {}
    if "SourceArn" in properties:
        conditions["ArnLike"] = {"AWS:SourceArn": resolve(properties["SourceArn"])}
    if "SourceAccount" in properties:
        conditions["StringEquals"] = {"AWS:SourceAccount": resolve(properties["SourceAccount"])}
    if conditions:
        statement["Condition"] = conditions
    return statement


def _queue_arn(queue_url: str) -> str:
    name = queue_url.rstrip("/").rsplit("/", 1)[-1]
    return f"arn:aws:sqs:{moto_access.LOCAL_REGION}:{moto_access.LOCAL_ACCOUNT_ID}:{name}"


def _resolver(stack_name: str) -> Any:
    """Resolves intrinsics against the deployed stack, with moto's own CloudFormation parser."""
    from moto.cloudformation.models import cloudformation_backends
    from moto.cloudformation.parsing import clean_json

    backend = cloudformation_backends[moto_access.LOCAL_ACCOUNT_ID][moto_access.LOCAL_REGION]
    stack = next(stack for stack in backend.stacks.values() if stack.name == stack_name)
    return lambda value: clean_json(value, stack.resource_map)
