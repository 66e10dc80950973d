"""Synthesize the CDK app and deploy its template into moto, the way `cdk deploy` would:
publish the file assets to the bootstrap bucket, then create the stack with CloudFormation.

moto's CloudFormation cannot create two resource types of the template; this module creates
them through their own APIs instead (the model package group) or leaves them out where moto
has nothing to enforce (bucket policies: moto does not evaluate them). moto's CloudFormation
also creates state machines in its record-only Step Functions backend, so each one is created
again, with the definition CloudFormation resolved, in the backend that executes them.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from mlops.local import moto_access

BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
BOOTSTRAP_VERSION = "30"
# Resource types moto's CloudFormation cannot create, and how the local cloud deals with each.
CREATED_THROUGH_API = {"AWS::SageMaker::ModelPackageGroup"}
NOT_ENFORCED_LOCALLY = {"AWS::S3::BucketPolicy"}


class DeploymentError(Exception):
    """The template could not be deployed into the local cloud."""


@dataclass
class SynthesizedApp:
    outdir: Path
    stack_name: str
    template: dict[str, Any]
    assets: dict[str, Any]

    def asset_folder_for_key(self, object_key: str) -> Path:
        for asset in self.assets.get("files", {}).values():
            for destination in asset["destinations"].values():
                if destination["objectKey"] == object_key:
                    return self.outdir / asset["source"]["path"]
        raise KeyError(object_key)


@dataclass
class DeployedStack:
    stack_name: str
    outputs: dict[str, str]
    physical_ids: dict[str, str]
    state_machines: dict[str, str] = field(default_factory=dict)


def synthesize(config_path: Path, outdir: Path) -> SynthesizedApp:
    from infra.app import build_app

    assembly = build_app(str(config_path), outdir=str(outdir)).synth()
    stacks = assembly.stacks
    if len(stacks) != 1:
        raise DeploymentError(f"expected one stack in the CDK app, found {len(stacks)}")
    stack = stacks[0]
    template = json.loads((outdir / stack.template_file).read_text())
    assets_file = outdir / f"{stack.stack_name}.assets.json"
    assets = json.loads(assets_file.read_text()) if assets_file.exists() else {}
    return SynthesizedApp(outdir, stack.stack_name, template, assets)


def deploy(app: SynthesizedApp) -> DeployedStack:
    account, region = moto_access.LOCAL_ACCOUNT_ID, moto_access.LOCAL_REGION
    session = boto3.Session(region_name=region)
    _bootstrap(session, app, account, region)
    template = _deployable_template(app.template)
    cloudformation = session.client("cloudformation")
    cloudformation.create_stack(
        StackName=app.stack_name,
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    described = cloudformation.describe_stacks(StackName=app.stack_name)["Stacks"][0]
    if described["StackStatus"] != "CREATE_COMPLETE":
        reasons = [
            f"{event['LogicalResourceId']}: {event.get('ResourceStatusReason', '')}"
            for event in cloudformation.describe_stack_events(StackName=app.stack_name)["StackEvents"]
            if event["ResourceStatus"].endswith("FAILED")
        ]
        raise DeploymentError(f"stack {app.stack_name} is {described['StackStatus']}: {'; '.join(reasons)}")
    physical_ids = {
        resource["LogicalResourceId"]: resource["PhysicalResourceId"]
        for resource in cloudformation.list_stack_resources(StackName=app.stack_name)["StackResourceSummaries"]
    }
    outputs = {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
    _create_through_api(session, app.template)
    state_machines = _make_state_machines_executable(app.template, physical_ids)
    return DeployedStack(app.stack_name, outputs, physical_ids, state_machines)


def _bootstrap(session: boto3.Session, app: SynthesizedApp, account: str, region: str) -> None:
    """What `cdk bootstrap` leaves in an account, and the asset publishing of `cdk deploy`."""
    session.client("ssm").put_parameter(
        Name=BOOTSTRAP_VERSION_PARAMETER, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
    )
    s3 = session.client("s3")
    for asset in app.assets.get("files", {}).values():
        source = app.outdir / asset["source"]["path"]
        body = _zip_folder(source) if source.is_dir() else source.read_bytes()
        for destination in asset["destinations"].values():
            bucket = destination["bucketName"].replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
            if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
                s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)


def _zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _deployable_template(template: dict[str, Any]) -> dict[str, Any]:
    skipped = {
        logical_id
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] in CREATED_THROUGH_API | NOT_ENFORCED_LOCALLY
    }
    resources = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if logical_id in skipped:
            continue
        resource = dict(resource)
        depends_on = resource.get("DependsOn")
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        if depends_on:
            kept = [name for name in depends_on if name not in skipped]
            if kept:
                resource["DependsOn"] = kept
            else:
                resource.pop("DependsOn")
        resources[logical_id] = resource
    deployable = {key: value for key, value in template.items() if key not in ("Rules",)}
    deployable["Resources"] = resources
    return deployable


def _create_through_api(session: boto3.Session, template: dict[str, Any]) -> None:
    sagemaker = session.client("sagemaker")
    for resource in template.get("Resources", {}).values():
        if resource["Type"] == "AWS::SageMaker::ModelPackageGroup":
            properties = resource.get("Properties", {})
            sagemaker.create_model_package_group(
                ModelPackageGroupName=properties["ModelPackageGroupName"],
                ModelPackageGroupDescription=properties.get("ModelPackageGroupDescription", ""),
            )


def _make_state_machines_executable(template: dict[str, Any], physical_ids: dict[str, str]) -> dict[str, str]:
    from moto.stepfunctions.models import stepfunctions_backends

    recorded = stepfunctions_backends[moto_access.LOCAL_ACCOUNT_ID][moto_access.LOCAL_REGION]
    executing = moto_access.stepfunctions_backend()
    arns = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        arn = physical_ids[logical_id]
        machine = recorded.describe_state_machine(arn)
        if not any(existing.arn == arn for existing in executing.state_machines):
            executing.create_state_machine(
                name=machine.name,
                definition=machine.definition,
                roleArn=machine.roleArn,
                tags=None,
            )
        arns[logical_id] = arn
    return arns


def environment_for_moto() -> dict[str, str]:
    """Credentials and region for every boto3 client the local cloud and its handlers create."""
    return {
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        "AWS_DEFAULT_REGION": moto_access.LOCAL_REGION,
    }
