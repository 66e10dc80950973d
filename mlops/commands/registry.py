"""`mlops versions | lineage | approve | reject | rollback`: the model registry and the endpoint,
operated by a person. Rollback is the alarm responder's own rollback, started by hand."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.cli_support import EXIT_FAILED, EXIT_OK, UsageError, add_target_arguments

if TYPE_CHECKING:
    from functions.alarm_responder.responder import RegisteredVersion
    from functions.common.serving_model import ServingModel
    from mlops.aws_target import AwsTarget
    from mlops.registry_reads import RegistryVersions, VersionSummary

APPROVED = "Approved"
APPROVED_BY_PERSON = "person"
REJECTED = "Rejected"
DATASET_VERSION_SHORT_CHARS = 12
SERVING_MARKER = "*"
CREATED_FORMAT = "%Y-%m-%d %H:%M UTC"
UNKNOWN_USER = "unknown user"


@dataclass(frozen=True)
class Operator:
    command: str
    user: str


def operator(command: str) -> Operator:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        user = UNKNOWN_USER
    return Operator(command=command, user=user)


def register(commands: argparse._SubParsersAction) -> None:
    versions_command = commands.add_parser("versions", help="the registry's versions, and which one is serving")
    versions_command.add_argument("--json", action="store_true", help="one JSON object per version, one per line, newest first")
    add_target_arguments(versions_command)
    versions_command.set_defaults(handler=lambda arguments: versions(
        arguments.config, arguments.local, arguments.json, profile=arguments.profile, region=arguments.region))

    lineage_command = commands.add_parser("lineage", help="everything that produced a version")
    lineage_command.add_argument("version", type=int, help="the version number, as `mlops versions` lists it")
    lineage_command.add_argument("--json", action="store_true", help="one JSON object")
    add_target_arguments(lineage_command)
    lineage_command.set_defaults(handler=lambda arguments: lineage(
        arguments.version, arguments.config, arguments.local, arguments.json,
        profile=arguments.profile, region=arguments.region))

    approve_command = commands.add_parser("approve", help="approve a version; its approval event deploys it")
    approve_command.add_argument("version", type=int, help="the version number to approve")
    approve_command.add_argument("--reason", help="why it is approved, kept in the registry and the audit log")
    add_target_arguments(approve_command)
    approve_command.set_defaults(handler=lambda arguments: approve(
        arguments.version, arguments.config, arguments.local, arguments.reason,
        profile=arguments.profile, region=arguments.region))

    reject_command = commands.add_parser("reject", help="reject a version so nothing deploys it")
    reject_command.add_argument("version", type=int, help="the version number to reject")
    reject_command.add_argument("--reason", required=True, help="why it is rejected, kept in the registry and the audit log")
    add_target_arguments(reject_command)
    reject_command.set_defaults(handler=lambda arguments: reject(
        arguments.version, arguments.config, arguments.local, arguments.reason,
        profile=arguments.profile, region=arguments.region))

    rollback_command = commands.add_parser("rollback", help="serve the previous approved version (or --to VERSION) again")
    rollback_command.add_argument("--to", type=int, dest="to_version", metavar="VERSION",
                                  help="the approved version to serve (default: the one before the serving version)")
    rollback_command.add_argument("--reason", help="why, kept in the audit log and on the rejected version")
    add_target_arguments(rollback_command)
    rollback_command.set_defaults(handler=lambda arguments: rollback(
        arguments.to_version, arguments.config, arguments.local, arguments.reason,
        profile=arguments.profile, region=arguments.region))


# ---------------------------------------------------------------------------------------------
# Commands


def versions(config_path: Path | None, local: bool, as_json: bool, *, profile: str | None = None, region: str | None = None) -> int:
    from mlops.aws_target import resolve_target
    from mlops.registry_reads import read_registry_versions

    command = "mlops versions"
    target = resolve_target(command, config_path, local, profile=profile, region=region)

    def read_and_print() -> int:
        registry = read_registry_versions(target.client("sagemaker"), target.model_package_group, target.serving_endpoint)
        return _print_versions_as_json(registry) if as_json else _print_versions(target, registry)

    return _reporting_aws_errors(command, read_and_print)


def lineage(version: int, config_path: Path | None, local: bool, as_json: bool, *, profile: str | None = None, region: str | None = None) -> int:
    from mlops.aws_target import resolve_target

    command = "mlops lineage"
    target = resolve_target(command, config_path, local, profile=profile, region=region)
    return _reporting_aws_errors(command, lambda: _print_lineage(command, target, version, as_json))


def approve(version: int, config_path: Path | None, local: bool, reason: str | None, *, profile: str | None = None, region: str | None = None) -> int:
    from mlops.aws_target import resolve_target

    command = "mlops approve"
    target = resolve_target(command, config_path, local, profile=profile, region=region)
    return _reporting_aws_errors(command, lambda: _set_approval(command, target, version, APPROVED, reason))


def reject(version: int, config_path: Path | None, local: bool, reason: str, *, profile: str | None = None, region: str | None = None) -> int:
    from mlops.aws_target import resolve_target

    command = "mlops reject"
    if not reason.strip():
        raise UsageError(f"{command}: --reason must say why the version is rejected")
    target = resolve_target(command, config_path, local, profile=profile, region=region)
    return _reporting_aws_errors(command, lambda: _set_approval(command, target, version, REJECTED, reason))


def rollback(to_version: int | None, config_path: Path | None, local: bool, reason: str | None, *, profile: str | None = None, region: str | None = None) -> int:
    from mlops.aws_target import resolve_target

    command = "mlops rollback"
    target = resolve_target(command, config_path, local, profile=profile, region=region)
    if target.serving_endpoint is None:
        raise UsageError(
            f"{command}: deployment.mode is batch_only, so there is no endpoint to roll back; the newest approved "
            "version scores batch uploads, so `mlops reject <version>` of it hands scoring to the one approved before"
        )
    return _reporting_aws_errors(command, lambda: _roll_back(command, target, to_version, reason))


def _reporting_aws_errors(command: str, run: Callable[[], int]) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return run()
    except (ClientError, BotoCoreError) as error:
        print(f"{command}: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_FAILED


def _require_version(command: str, target: AwsTarget, sagemaker: Any, version: int) -> dict[str, Any]:
    from mlops.registry_reads import find_version

    package = find_version(sagemaker, target.model_package_group, version)
    if package is None:
        raise _unknown_version(command, target, version)
    return package


def _unknown_version(command: str, target: AwsTarget, version: int) -> UsageError:
    return UsageError(f"{command}: no version {version} in model package group {target.model_package_group}")


# ---------------------------------------------------------------------------------------------
# versions


def _print_versions(target: AwsTarget, registry: RegistryVersions) -> int:
    if not registry.versions:
        print(f"No versions in model package group {target.model_package_group} ({target.description}).")
        return EXIT_OK
    rows = [
        (
            SERVING_MARKER if summary.serving else "",
            str(summary.version),
            "-" if summary.approval_status is None else summary.approval_status,
            _metric_text(summary),
            (summary.dataset_version or "-")[:DATASET_VERSION_SHORT_CHARS],
            summary.created.astimezone(UTC).strftime(CREATED_FORMAT) if summary.created is not None else "-",
        )
        for summary in registry.versions
    ]
    header = ("", "VERSION", "STATUS", "PRIMARY METRIC", "DATASET", "CREATED")
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    serving = registry.serving
    if target.serving_endpoint is None:
        in_service = next((summary.version for summary in registry.versions if summary.serving), None)
        scores = "no version is approved yet" if in_service is None else f"{SERVING_MARKER} the newest approved version scores batch uploads"
        print(f"No endpoint (deployment.mode batch_only): {scores}.")
    elif serving is None:
        print(f"Endpoint {target.endpoint_name} does not exist; no version is serving.")
    elif serving.model_version is None:
        print(f"Endpoint {target.endpoint_name} serves model {serving.model_name}, which names no registry version.")
    else:
        print(f"{SERVING_MARKER} serving on endpoint {target.endpoint_name} ({serving.endpoint_status}).")
    return EXIT_OK


def _print_versions_as_json(registry: RegistryVersions) -> int:
    for summary in registry.versions:
        print(json.dumps(summary.to_json_dict(), sort_keys=True))
    return EXIT_OK


def _metric_text(summary: VersionSummary) -> str:
    name, value = summary.primary_metric, summary.primary_metric_value
    if name is None:
        return "-"
    try:
        shown = f"{float(value):.4f}" if value is not None else "undefined"
    except ValueError:
        shown = value or "undefined"
    return f"{name}={shown}"


# ---------------------------------------------------------------------------------------------
# lineage


LINEAGE_LABELS = (
    # The gate first: its metric, the margin, the two comparisons and the decision.
    ("primary_metric", "primary metric"),
    ("primary_metric_value", "metric value"),
    ("gate_margin", "required gain"),
    ("gate_new_rows", "on new test rows"),
    ("gate_reference_holdout", "on reference holdout"),
    ("champion_version", "compared with"),
    ("gate_decision", "gate decision"),
    ("approval_status", "approval status"),
    ("approval_description", "approval note"),
    ("description", "description"),
    ("created", "created"),
    ("dataset_version", "dataset version"),
    ("dataset_uri", "dataset"),
    ("profile_uri", "data profile"),
    ("code_version", "code version"),
    ("hyperparameters", "hyperparameters"),
    ("training_job", "training job"),
    ("execution_arn", "execution"),
    ("validation_report", "validation report"),
    ("evaluation_report", "evaluation report"),
    ("model_data_url", "model data"),
    ("image", "image"),
    ("model_package_arn", "model package"),
)


def _print_lineage(command: str, target: AwsTarget, version: int, as_json: bool) -> int:
    from mlops.registry_reads import read_lineage

    record = read_lineage(target.client("sagemaker"), target.model_package_group, target.serving_endpoint, version)
    if record is None:
        raise _unknown_version(command, target, version)
    record["batches"] = _batches_scored(target, version)
    if as_json:
        print(json.dumps(record, indent=2, sort_keys=True))
        return EXIT_OK
    serving = f", serving on {target.endpoint_name}" if target.serving_endpoint else ", scoring batch uploads"
    serving = serving if record["serving"] else ""
    print(f"Version {version} of {target.model_package_group}{serving}")
    width = max(len(label) for _, label in LINEAGE_LABELS)
    for key, label in LINEAGE_LABELS:
        value = record[key]
        if key == "hyperparameters":
            value = " ".join(f"{name}={setting}" for name, setting in sorted(value.items())) or None
        elif key == "champion_version" and value is None:
            value = "no champion (first model)"
        print(f"  {label.ljust(width)}  {value if value is not None else '-'}")
    print(f"  {'batches scored'.ljust(width)}  {len(record['batches']) or '-'}")
    for batch in record["batches"]:
        print(f"    {batch['decided_at']}  {batch['outcome']}  {batch['source_uri']} -> {batch['predictions_uri'] or '-'}")
    return EXIT_OK


def _batches_scored(target: AwsTarget, version: int) -> list[dict[str, Any]]:
    from mlops.batch_records import batches_scored_by

    return batches_scored_by(target.client("s3"), target.data_bucket, version) if target.data_bucket else []


# ---------------------------------------------------------------------------------------------
# approve / reject


def approval_description(who: Operator, status: str, reason: str | None) -> str:
    from functions.alarm_responder import responder

    verb = "Approved" if status == APPROVED else "Rejected"
    text = f"{verb} by {who.user} with {who.command}"
    return responder.approval_description(f"{text}: {reason.strip()}" if reason and reason.strip() else f"{text}.")


def _set_approval(command: str, target: AwsTarget, version: int, status: str, reason: str | None) -> int:
    from functions.common.model_package import APPROVED_BY_METADATA_KEY
    from mlops.audit_log import operator_audit_record, write_operator_record
    from mlops.registry_reads import package_metadata, read_serving_version

    bucket = _audit_bucket(command, target)
    sagemaker = target.client("sagemaker")
    package = _require_version(command, target, sagemaker, version)
    previous = package.get("ModelApprovalStatus")
    if previous == status:
        print(f"Version {version} is already {status}; nothing changed.")
        return EXIT_OK
    who = operator(command)
    description = approval_description(who, status, reason)
    # A person's approval is theirs to deploy: the deployment branch skips only versions the
    # pipeline's own policy approved (their training execution deploys them).
    metadata = package_metadata(package)
    lineage = {**metadata, APPROVED_BY_METADATA_KEY: APPROVED_BY_PERSON} if status == APPROVED else metadata
    # Read on both sides of the update: without an endpoint (batch_only) the status change itself
    # moves which version is in service.
    version_before = read_serving_version(sagemaker, target.model_package_group, target.serving_endpoint)
    sagemaker.update_model_package(
        ModelPackageArn=package["ModelPackageArn"],
        ModelApprovalStatus=status,
        ApprovalDescription=description,
        # Passed back unchanged: an update without them can drop them (moto does).
        **({"CustomerMetadataProperties": lineage} if lineage else {}),
    )
    serving_version = read_serving_version(sagemaker, target.model_package_group, target.serving_endpoint)
    now = datetime.now(UTC)
    action = "approve" if status == APPROVED else "reject"
    key = write_operator_record(
        target.client("s3"),
        bucket,
        operator_audit_record(
            command=who.command,
            user=who.user,
            action=action,
            outcome=f"version {version} {previous} -> {status}",
            status="acted",
            reason=description,
            now=now,
            version_before=version_before,
            version_after=serving_version,
            details={"model_version": version, "model_package_arn": package["ModelPackageArn"],
                     "approval_status_before": previous, "approval_status_after": status},
        ),
        now,
    )
    print(f"Version {version}: {previous} -> {status} ({description})")
    if status == APPROVED:
        if metadata.get("gate_decision") == "failed":
            print(f"Note: version {version} failed the evaluation gates; this approval overrides them.")
        if target.serving_endpoint is None:
            print(f"Version {version} scores batch uploads from now on, unless a newer version is approved "
                  "(deployment.mode batch_only); follow it with `mlops versions`.")
        else:
            print(f"The registry's approval event starts its deployment to endpoint {target.endpoint_name}; "
                  "follow it with `mlops versions`.")
    elif target.serving_endpoint is None:
        print("The newest approved version scores batch uploads (deployment.mode batch_only); "
              "`mlops versions` marks it.")
    elif version == serving_version:
        print(f"Version {version} still serves on endpoint {target.endpoint_name}; "
              "`mlops rollback` takes it off.")
    print(f"Audit record: s3://{bucket}/{key}")
    return EXIT_OK


def _audit_bucket(command: str, target: AwsTarget) -> str:
    if not target.data_bucket:
        raise UsageError(f"{command}: the outputs of {target.description} name no data bucket for the audit log")
    return target.data_bucket


# ---------------------------------------------------------------------------------------------
# rollback


def rollback_reason(who: Operator, reason: str | None) -> str:
    text = f"Rolled back by {who.user} with {who.command}"
    if reason and reason.strip():
        return f"{text}: {reason.strip().rstrip('.')}."
    return f"{text}; no reason given."


def _rollback_target(
    command: str, target: AwsTarget, sagemaker: Any, serving: ServingModel, to_version: int | None
) -> RegisteredVersion | None:
    from functions.alarm_responder import actions
    from functions.alarm_responder.responder import RegisteredVersion

    if to_version is None:
        return actions.find_previous_approved_version(sagemaker, target.model_package_group, serving.model_version)
    if to_version == serving.model_version:
        raise UsageError(f"{command}: version {to_version} is already serving on {target.endpoint_name}")
    package = _require_version(command, target, sagemaker, to_version)
    if package.get("ModelApprovalStatus") != APPROVED:
        raise UsageError(
            f"{command}: version {to_version} is {package.get('ModelApprovalStatus')}; "
            f"approve it first with `mlops approve {to_version}`"
        )
    return RegisteredVersion(version=to_version, model_package_arn=package["ModelPackageArn"])


def _roll_back(command: str, target: AwsTarget, to_version: int | None, reason: str | None) -> int:
    from functions.alarm_responder import actions, responder
    from functions.common.serving_model import read_serving_model
    from mlops.audit_log import operator_audit_record, write_operator_record

    bucket = _audit_bucket(command, target)
    sagemaker = target.client("sagemaker")
    serving = read_serving_model(sagemaker, target.endpoint_name)
    if serving is None:
        print(f"{command}: endpoint {target.endpoint_name} does not exist; nothing to roll back", file=sys.stderr)
        return EXIT_FAILED
    if serving.endpoint_status != "InService":
        print(f"{command}: endpoint {target.endpoint_name} is {serving.endpoint_status}; "
              "roll back once it is InService", file=sys.stderr)
        return EXIT_FAILED
    if serving.model_version is None or serving.model_package_arn is None:
        print(f"{command}: the model serving on {target.endpoint_name} ({serving.model_name}) names no "
              "registry version", file=sys.stderr)
        return EXIT_FAILED
    restored = _rollback_target(command, target, sagemaker, serving, to_version)
    if restored is None:
        print(f"{command}: no approved version older than {serving.model_version} to roll back to "
              "(name one with --to)", file=sys.stderr)
        return EXIT_FAILED

    who = operator(command)
    why = rollback_reason(who, reason)
    now = datetime.now(UTC)
    try:
        details = actions.roll_back(
            sagemaker,
            config=target.config,
            model_role_arn=target.model_role_arn or _execution_role(sagemaker, serving),
            serving=serving,
            target=restored,
            reason=why,
            now=now,
        )
        outcome, status, version_after, failure = (
            responder.rollback_outcome(serving.model_version, restored.version), "acted", restored.version, None)
    except actions.AlarmActionError as error:
        details = {"error": str(error)}
        outcome, status, version_after, failure = (
            actions.failure_outcome(error), "failed", serving.model_version, str(error))

    record = operator_audit_record(
        command=who.command,
        user=who.user,
        action="rollback",
        outcome=outcome,
        status=status,
        reason=why,
        now=now,
        version_before=serving.model_version,
        version_after=version_after,
        details=details,
    )
    key = write_operator_record(target.client("s3"), bucket, record, now)
    if failure is not None:
        print(f"{command}: {outcome} ({failure}); recorded at s3://{bucket}/{key}", file=sys.stderr)
        return EXIT_FAILED
    _announce(target, who, outcome, why)
    print(f"Endpoint {target.endpoint_name}: version {serving.model_version} -> version {restored.version} "
          f"(endpoint config {details['endpoint_config_name']}, updating).")
    print(f"Version {serving.model_version} is now Rejected: {why}")
    print(f"Audit record: s3://{bucket}/{key}")
    return EXIT_OK


def _execution_role(sagemaker: Any, serving: ServingModel) -> str:
    return sagemaker.describe_model(ModelName=serving.model_name)["ExecutionRoleArn"]


def _announce(target: AwsTarget, who: Operator, outcome: str, why: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    from functions.alarm_responder import actions, responder

    if not target.topic_arn:
        return
    subject = f"{target.endpoint_name}: {outcome} by {who.user}"
    try:
        actions.publish_decision(
            target.client("sns"),
            target.topic_arn,
            subject=subject.encode("ascii", "replace").decode("ascii")[: responder.MAX_SNS_SUBJECT_CHARS],
            message=f"{why.rstrip('.')}; rollback: {outcome}.",
        )
    except (ClientError, BotoCoreError) as error:
        # The rollback happened and is audited; a lost notification must not hide that.
        print(f"{who.command}: rolled back, but the notification failed: {error}", file=sys.stderr)
