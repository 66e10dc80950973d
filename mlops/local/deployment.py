"""Synthesize the CDK app and deploy its template into moto, the way `cdk deploy` would:
publish the file assets to the bootstrap bucket, then create the stack with CloudFormation.

moto's CloudFormation cannot create some resource types of the template; this module creates
them through their own APIs instead (the model package group, the CloudWatch alarms and anomaly
detectors), applies the one bucket property moto's CloudFormation ignores (EventBridge
notifications), and leaves the resource policies to the local IAM evaluator
(mlops.local.iam), as moto would evaluate them without their conditions. moto's
CloudFormation also creates state machines in its record-only Step Functions backend, so each
one is created again, with the definition CloudFormation resolved, in the backend that
executes them.
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import io
import json
import os
import shutil
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.session

from mlops.local import moto_access
from mlops.local.api_models import shared_loader
from mlops.local.iam.policies import RESOURCE_POLICY_TYPES

BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
BOOTSTRAP_VERSION = "30"
# Resource types moto's CloudFormation cannot create, and how the local cloud deals with each.
CREATED_THROUGH_API = {
    "AWS::SageMaker::ModelPackageGroup",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::AnomalyDetector",
}
NOT_ENFORCED_LOCALLY = {
    # Async retry settings of the alarm responder; the local router invokes it synchronously.
    "AWS::Lambda::EventInvokeConfig",
}


# The APIs the deployment calls. Loading their models and importing moto's backends behind
# them takes seconds, which `prepared_session` lets a caller spend while the app synthesizes.
DEPLOYMENT_SERVICES = ("ssm", "s3", "cloudformation", "sagemaker", "cloudwatch", "stepfunctions")


# Attributes that follow from a resource's physical id (an SQS queue's id is its URL).
ATTRIBUTES_OF_PHYSICAL_IDS = {"QueueName": lambda queue_url: queue_url.rsplit("/", 1)[-1]}


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


def synthesize(config_path: Path, cache_root: Path | None = None) -> SynthesizedApp:
    """`cdk synth` of the app for this config, reused while nothing that shapes it changed.

    The key covers every input of the synthesis: the CDK app and the functions it packages,
    cdk.json, the config file, the user's training folder it names, and the versions of the
    libraries that render the template."""
    cache_root = cache_root or default_cache_root()
    key = _synthesis_key(config_path)
    outdir = cache_root / key
    if not (outdir / SYNTH_COMPLETE_MARKER).exists():
        cache_root.mkdir(parents=True, exist_ok=True)
        # Processes sharing the cache (two CLIs, CI's lanes) that need the same app wait for the
        # first one's synthesis instead of spending the same half minute of CPU beside it.
        with (cache_root / f"{key}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (outdir / SYNTH_COMPLETE_MARKER).exists():
                _synthesize_to(config_path, cache_root, outdir)
    return _read_assembly(outdir)


def _synthesize_to(config_path: Path, cache_root: Path, outdir: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix="synth-", dir=cache_root))
    _synthesize_into(config_path, staging)
    (staging / SYNTH_COMPLETE_MARKER).write_text("")
    if outdir.exists() and not (outdir / SYNTH_COMPLETE_MARKER).exists():
        shutil.rmtree(outdir, ignore_errors=True)
    try:
        staging.rename(outdir)
    except OSError:
        # Another process finished the same synthesis first and may be reading it: keep theirs.
        shutil.rmtree(staging, ignore_errors=True)


SYNTH_COMPLETE_MARKER = ".complete"
NODE_END_OF_LIFE_MAJORS = "18,20"
SYNTH_INPUT_FOLDERS = ("infra", "functions")
SYNTH_LIBRARIES = ("aws-cdk-lib", "cdk-nag", "sagemaker-core", "constructs")


def default_cache_root() -> Path:
    base = os.environ.get("MLOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mlops"
    )
    return Path(base) / "synth"


def _synthesis_key(config_path: Path) -> str:
    from importlib.metadata import version

    from infra.assets import REPOSITORY_ROOT
    from infra.training_source import folder_digest

    digest = hashlib.sha256()
    for folder in SYNTH_INPUT_FOLDERS:
        for path in sorted((REPOSITORY_ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(REPOSITORY_ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    digest.update((REPOSITORY_ROOT / "cdk.json").read_bytes())
    digest.update(Path(config_path).read_bytes())
    digest.update(folder_digest(config_path).encode())
    for library in SYNTH_LIBRARIES:
        digest.update(f"{library}=={version(library)}".encode())
    return digest.hexdigest()[:24]


def _synthesize_into(config_path: Path, outdir: Path) -> None:
    # The CDK's JavaScript runtime prints a banner when Node.js is past its end of life; the
    # README names the supported versions, and the banner would bury the pipeline's output.
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", NODE_END_OF_LIFE_MAJORS)
    from infra.app import build_app

    build_app(str(config_path), outdir=str(outdir)).synth()


def _read_assembly(outdir: Path) -> SynthesizedApp:
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = [
        (name, artifact)
        for name, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
    ]
    if len(stacks) != 1:
        raise DeploymentError(f"expected one stack in the CDK app, found {len(stacks)}")
    name, artifact = stacks[0]
    template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
    assets_file = outdir / f"{name}.assets.json"
    assets = json.loads(assets_file.read_text()) if assets_file.exists() else {}
    return SynthesizedApp(outdir, artifact.get("properties", {}).get("stackName", name), template, assets)


def prepared_session() -> boto3.Session:
    """A session for `deploy` with the deployment's API models loaded and moto's backends for
    them imported (moto's CloudFormation imports the backends of every resource type)."""
    from moto.backends import get_backend

    loaded = botocore.session.Session()
    loaded.register_component("data_loader", shared_loader(loaded.get_config_variable("data_path")))
    for service in DEPLOYMENT_SERVICES:
        loaded.get_service_model(service)
        get_backend(service)
    return boto3.Session(botocore_session=loaded, region_name=moto_access.LOCAL_REGION)


def deploy(app: SynthesizedApp, session: boto3.Session | None = None) -> DeployedStack:
    account, region = moto_access.LOCAL_ACCOUNT_ID, moto_access.LOCAL_REGION
    session = session or boto3.Session(region_name=region)
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
    _create_through_api(session, app.template, _Resolver(physical_ids, account, region, app.stack_name, described["StackId"]))
    _apply_ignored_properties(session, app.template, physical_ids)
    state_machines = _make_state_machines_executable(app.template, physical_ids)
    return DeployedStack(app.stack_name, outputs, physical_ids, state_machines)


def encrypted_log_groups(template: dict[str, Any], deployed: DeployedStack) -> list[tuple[str, str, str]]:
    """(logical id, name, key id) of each log group of the stack encrypted with a KMS key."""
    found = []
    for logical_id, resource in template.get("Resources", {}).items():
        key = resource.get("Properties", {}).get("KmsKeyId") if resource["Type"] == "AWS::Logs::LogGroup" else None
        if key is None:
            continue
        key_logical_id = key["Fn::GetAtt"][0] if isinstance(key, dict) and "Fn::GetAtt" in key else None
        key_id = deployed.physical_ids[key_logical_id] if key_logical_id else key
        found.append((logical_id, deployed.physical_ids[logical_id], key_id))
    return found


def _bootstrap(session: boto3.Session, app: SynthesizedApp, account: str, region: str) -> None:
    """What `cdk bootstrap` leaves in an account, and the asset publishing of `cdk deploy`."""
    session.client("ssm").put_parameter(
        Name=BOOTSTRAP_VERSION_PARAMETER, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
    )
    s3 = session.client("s3")
    for asset_hash, asset in app.assets.get("files", {}).items():
        source = app.outdir / asset["source"]["path"]
        body = _zipped_asset(asset_hash, source) if source.is_dir() else source.read_bytes()
        for destination in asset["destinations"].values():
            bucket = destination["bucketName"].replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
            if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
                s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)


# The functions' folder is tens of MB and the same in every app of a checkout (only the config
# differs), so each process zips it once instead of once a deployment. The CDK names an asset by
# the hash of its content: one hash is one content, whichever assembly holds it.
ZIPPED_ASSETS_KEPT = 4
_zipped_assets: collections.OrderedDict[str, bytes] = collections.OrderedDict()
_zipped_assets_lock = threading.Lock()


def _zipped_asset(asset_hash: str, folder: Path) -> bytes:
    with _zipped_assets_lock:
        if asset_hash in _zipped_assets:
            _zipped_assets.move_to_end(asset_hash)
            return _zipped_assets[asset_hash]
    body = _zip_folder(folder)
    with _zipped_assets_lock:
        _zipped_assets[asset_hash] = body
        while len(_zipped_assets) > ZIPPED_ASSETS_KEPT:
            _zipped_assets.popitem(last=False)
    return body


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
        if resource["Type"] in CREATED_THROUGH_API | NOT_ENFORCED_LOCALLY | set(RESOURCE_POLICY_TYPES)
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


def _create_through_api(session: boto3.Session, template: dict[str, Any], resolve: _Resolver) -> None:
    sagemaker = session.client("sagemaker")
    cloudwatch = session.client("cloudwatch")
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] not in CREATED_THROUGH_API:
            continue
        properties = resolve(resource.get("Properties", {}))
        if resource["Type"] == "AWS::SageMaker::ModelPackageGroup":
            _require_new_group(sagemaker, logical_id, properties["ModelPackageGroupName"])
            sagemaker.create_model_package_group(
                ModelPackageGroupName=properties["ModelPackageGroupName"],
                ModelPackageGroupDescription=properties.get("ModelPackageGroupDescription", ""),
            )
        elif resource["Type"] == "AWS::CloudWatch::Alarm":
            cloudwatch.put_metric_alarm(**{key: properties[key] for key in ALARM_PROPERTIES if key in properties})
        elif resource["Type"] == "AWS::CloudWatch::AnomalyDetector":
            cloudwatch.put_anomaly_detector(
                **{key: properties[key] for key in ANOMALY_DETECTOR_PROPERTIES if key in properties}
            )


def _require_new_group(sagemaker: Any, logical_id: str, name: str) -> None:
    """CloudFormation refuses to create a named resource that exists (a group retained by an
    earlier stack, say); moto's API would silently replace it."""
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=name)
    except sagemaker.exceptions.ClientError:
        return
    raise DeploymentError(
        f"{logical_id}: Resource of type 'AWS::SageMaker::ModelPackageGroup' with identifier '{name}' already exists."
    )


ALARM_PROPERTIES = (
    "AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
    "InsufficientDataActions", "MetricName", "Namespace", "Statistic", "ExtendedStatistic",
    "Dimensions", "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
    "ComparisonOperator", "TreatMissingData", "Metrics", "ThresholdMetricId",
)
ANOMALY_DETECTOR_PROPERTIES = (
    "Namespace", "MetricName", "Dimensions", "Stat", "Configuration", "MetricCharacteristics",
    "SingleMetricAnomalyDetector", "MetricMathAnomalyDetector",
)


def _apply_ignored_properties(session: boto3.Session, template: dict[str, Any], physical_ids: dict[str, str]) -> None:
    s3 = session.client("s3")
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] != "AWS::S3::Bucket":
            continue
        properties = resource.get("Properties", {})
        # moto's CloudFormation creates the bucket unversioned; in AWS every upload gets a
        # version id, which the S3 event names and validation reads.
        if properties.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=physical_ids[logical_id], VersioningConfiguration={"Status": "Enabled"})
        notifications = properties.get("NotificationConfiguration", {})
        if notifications.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            s3.put_bucket_notification_configuration(
                Bucket=physical_ids[logical_id],
                NotificationConfiguration={"EventBridgeConfiguration": {}},
            )


class _Resolver:
    """Resolves the intrinsics that appear in properties of resources created through APIs."""

    def __init__(self, physical_ids: dict[str, str], account: str, region: str, stack_name: str, stack_id: str) -> None:
        self._physical_ids = physical_ids
        self._pseudo = {
            "AWS::StackId": stack_id,
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
        }

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            name = value["Ref"]
            if name in self._pseudo:
                return self._pseudo[name]
            if name in self._physical_ids:
                return self._physical_ids[name]
            raise DeploymentError(f"cannot resolve Ref {name}")
        if set(value) == {"Fn::GetAtt"}:
            logical_id, attribute = value["Fn::GetAtt"]
            if attribute in ATTRIBUTES_OF_PHYSICAL_IDS and logical_id in self._physical_ids:
                return ATTRIBUTES_OF_PHYSICAL_IDS[attribute](self._physical_ids[logical_id])
            raise DeploymentError(f"cannot resolve Fn::GetAtt {logical_id}.{attribute}")
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self(part)) for part in parts)
        if set(value) == {"Fn::Split"}:
            separator, text = value["Fn::Split"]
            return str(self(text)).split(separator)
        if set(value) == {"Fn::Select"}:
            index, items = value["Fn::Select"]
            return self(items)[int(index)]
        if any(key.startswith("Fn::") for key in value):
            raise DeploymentError(f"the local cloud cannot resolve {sorted(value)} here")
        return {key: self(item) for key, item in value.items()}


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
