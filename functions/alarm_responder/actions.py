"""The AWS side of the alarm responder: gather the facts a decision needs, carry the decision out
(roll back, write a retraining dataset, notify), and record it. Clients come in as arguments.
A rollback also publishes the version it restored as DeployedModelVersion, for the dashboard."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from functions.alarm_responder import responder
from functions.alarm_responder.responder import (
    AlarmStateChangeDetail,
    CuratedDataset,
    Decision,
    PastDecision,
    RegisteredVersion,
)
from functions.alarm_responder.settings import ResponderSettings
from functions.common.config import PipelineConfig
from functions.common.deployed_version import publish_deployed_version
from functions.common.errors import PipelineError
from functions.common.model_package import INFERENCE_PROGRAM, INFERENCE_SUBMIT_DIRECTORY
from functions.common.s3_layout import (
    CURATED_PREFIX,
    INCOMING_PREFIX,
    curated_split_key,
)
from functions.common.serving_model import ServingModel, read_serving_model

logger = Logger(child=True)

SPLITS = ("train", "validation", "test")
MANIFEST_FILE_NAME = "manifest.json"
# Rows are staged in memory up to this size, then in Lambda's /tmp.
SPOOL_MEMORY_BYTES = 64 * 1024 * 1024
CSV_SUFFIX = ".csv"
# The container contract every pipeline model is created with (see the Register version step).
DEFAULT_MODEL_ENVIRONMENT = {
    "SAGEMAKER_PROGRAM": INFERENCE_PROGRAM,
    "SAGEMAKER_SUBMIT_DIRECTORY": INFERENCE_SUBMIT_DIRECTORY,
}
# ProductionVariant fields that DescribeEndpointConfig returns and CreateEndpointConfig accepts.
VARIANT_SETTINGS = (
    "VariantName",
    "InitialInstanceCount",
    "InstanceType",
    "InitialVariantWeight",
    "AcceleratorType",
    "CoreDumpConfig",
    "ServerlessConfig",
    "VolumeSizeInGB",
    "ModelDataDownloadTimeoutInSeconds",
    "ContainerStartupHealthCheckTimeoutInSeconds",
    "EnableSSMAccess",
    "ManagedInstanceScaling",
    "RoutingConfig",
    "InferenceAmiVersion",
)
ENDPOINT_CONFIG_SETTINGS = ("DataCaptureConfig", "KmsKeyId")
MODEL_SETTINGS = ("VpcConfig", "EnableNetworkIsolation")


# ---------------------------------------------------------------------------------------------
# Errors: an action that was attempted and could not finish. Mapped to outcomes in failure_outcome.


class AlarmActionError(PipelineError):
    """An action could not be carried out; the decision is recorded as failed."""


class RollbackTargetUnusableError(AlarmActionError):
    """The previous approved version has no deployable container in the registry."""


class CuratedDatasetUnreadableError(AlarmActionError):
    """The newest curated dataset's splits are missing or do not share one header."""


class NoNewRowsError(AlarmActionError):
    """A retrain would train on exactly the rows already trained on: nothing arrived since."""


FAILURE_OUTCOMES: dict[type[AlarmActionError], str] = {
    RollbackTargetUnusableError: "failed: previous version has no deployable container",
    CuratedDatasetUnreadableError: "failed: curated dataset unreadable",
}


def failure_outcome(error: AlarmActionError) -> str:
    for error_type in type(error).__mro__:
        if error_type in FAILURE_OUTCOMES:
            return FAILURE_OUTCOMES[error_type]
    return "failed: action could not be carried out"


# ---------------------------------------------------------------------------------------------
# Settings and clients


@dataclass(frozen=True)
class AwsClients:
    s3: Any
    sagemaker: Any
    sns: Any
    cloudwatch: Any


# ---------------------------------------------------------------------------------------------
# The whole response


def respond_to_transition(*, transition: dict[str, Any], **collaborators: Any) -> dict[str, Any]:
    """`respond` for the idempotency layer, which hashes and stores its data argument: the alarm's
    transition as JSON data (`AlarmStateChangeDetail.model_dump(mode="json")`). Powertools 3.23 to
    3.26, the releases of the layer, serialize a pydantic argument with `model_dump()`, which keeps
    the state's datetime and fails with IdempotencyPersistenceLayerError on every alarm."""
    return respond(change=AlarmStateChangeDetail.model_validate(transition), **collaborators)


def respond(
    *,
    change: AlarmStateChangeDetail,
    config: PipelineConfig,
    settings: ResponderSettings,
    clients: AwsClients,
    responder_id: str,
    alarm_arn: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Decide, act, record, notify. Returns the AlarmDecision as JSON-ready data."""
    action = responder.action_for(change, config)
    serving = read_serving_model(clients.sagemaker, settings.endpoint_name)
    previous_version = None
    past_decisions: list[PastDecision] = []
    curated_dataset = None
    if action == "rollback" and serving is not None and serving.model_version is not None:
        previous_version = find_previous_approved_version(
            clients.sagemaker, settings.model_package_group, serving.model_version
        )
    if action == "retrain":
        past_decisions = read_past_decisions(clients.s3, settings.data_bucket, now)
        curated_dataset = find_newest_curated_dataset(clients.s3, settings.data_bucket)

    decision = responder.decide(
        change,
        config,
        now=now,
        serving=serving,
        previous_version=previous_version,
        past_decisions=past_decisions,
        curated_dataset=curated_dataset,
    )
    try:
        details = carry_out(decision, config=config, settings=settings, clients=clients, now=now)
    except NoNewRowsError as error:
        # A retrain on the same rows trains the same model, which the gate rejects as no
        # improvement after a full training job: not started at all.
        logger.info("retrain skipped", extra={"alarm": change.alarm_name, "reason": str(error)})
        decision = responder.skipped(decision, responder.OUTCOME_NO_NEW_ROWS)
        details = {"reason": str(error)}
    except AlarmActionError as error:
        logger.warning("alarm action failed", extra={"alarm": change.alarm_name, "error": str(error)})
        decision = responder.failed(decision, failure_outcome(error))
        details = {"error": str(error)}

    record = responder.audit_record(
        decision, change, responder=responder_id, alarm_arn=alarm_arn, now=now, details=details
    )
    key = responder.audit_key(change.alarm_name, now)
    write_audit_record(clients.s3, settings.data_bucket, key, record)
    publish_decision(
        clients.sns,
        settings.topic_arn,
        subject=responder.notification_subject(decision),
        message=responder.notification_message(decision.record),
    )
    logger.info(
        "alarm decision",
        extra={
            "alarm": change.alarm_name,
            "action": decision.record.action,
            "outcome": decision.record.outcome,
            "status": decision.status,
            "audit_key": key,
        },
    )
    return decision.record.model_dump(mode="json")


def carry_out(
    decision: Decision,
    *,
    config: PipelineConfig,
    settings: ResponderSettings,
    clients: AwsClients,
    now: datetime,
) -> dict[str, Any]:
    """Perform an "acted" decision's side effects; returns what the audit record should show."""
    if decision.status != "acted":
        return {}
    if decision.rollback_to is not None and decision.rollback_from is not None:
        details = roll_back(
            clients.sagemaker,
            config=config,
            model_role_arn=settings.model_role_arn,
            serving=decision.rollback_from,
            target=decision.rollback_to,
            reason=decision.record.reason,
            now=now,
        )
        publish_deployed_version(
            clients.cloudwatch, settings.metrics_namespace, settings.endpoint_name, decision.rollback_to.version, now
        )
        return details
    if decision.retrain_dataset_key is not None and decision.curated_dataset is not None:
        details = write_retraining_dataset(
            clients.s3, settings.data_bucket, decision.curated_dataset, decision.retrain_dataset_key
        )
        # The S3 "Object Created" route starts this state machine for the new incoming object.
        return {**details, "state_machine_arn": settings.state_machine_arn}
    return {}


# ---------------------------------------------------------------------------------------------
# Facts


def find_previous_approved_version(sagemaker: Any, group: str, serving_version: int) -> RegisteredVersion | None:
    approved = [
        RegisteredVersion(version=summary["ModelPackageVersion"], model_package_arn=summary["ModelPackageArn"])
        for page in sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
        )
        for summary in page.get("ModelPackageSummaryList", [])
        if summary.get("ModelPackageVersion") is not None
    ]
    return responder.previous_approved(approved, serving_version)


def read_past_decisions(s3: Any, bucket: str, now: datetime) -> list[PastDecision]:
    """Audit records of the last day (by the time in their key)."""
    decisions = []
    for prefix in responder.audit_day_prefixes(now):
        for item in _list_objects(s3, bucket, prefix):
            decided_at = responder.audit_key_time(item["Key"])
            if decided_at is None or now - decided_at >= responder.RETRAIN_WINDOW:
                continue
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            try:
                decisions.append(responder.past_decision(json.loads(body)))
            except (KeyError, TypeError, ValueError):
                logger.warning("unreadable audit record ignored", extra={"key": item["Key"]})
    return decisions


def find_newest_curated_dataset(s3: Any, bucket: str) -> CuratedDataset | None:
    manifests = [
        item
        for item in _list_objects(s3, bucket, CURATED_PREFIX)
        if _is_manifest_key(item["Key"])
    ]
    if not manifests:
        return None
    newest = max(manifests, key=lambda item: item["LastModified"])
    return CuratedDataset(
        dataset_version=newest["Key"].split("/")[1],
        manifest_key=newest["Key"],
        manifest_last_modified=newest["LastModified"],
    )


def _is_manifest_key(key: str) -> bool:
    parts = key.split("/")
    return len(parts) == 3 and f"{parts[0]}/" == CURATED_PREFIX and parts[2] == MANIFEST_FILE_NAME and bool(parts[1])


def _list_objects(s3: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


# ---------------------------------------------------------------------------------------------
# Rollback


def roll_back(
    sagemaker: Any,
    *,
    config: PipelineConfig,
    model_role_arn: str,
    serving: ServingModel,
    target: RegisteredVersion,
    reason: str,
    now: datetime,
) -> dict[str, Any]:
    """Serve `target` on the endpoint with the current variant and capture settings, then mark
    the serving version Rejected so nothing deploys or baselines on it again."""
    package = sagemaker.describe_model_package(ModelPackageName=target.model_package_arn)
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if not containers or not containers[0].get("Image") or not containers[0].get("ModelDataUrl"):
        raise RollbackTargetUnusableError(
            f"model package {target.model_package_arn} has no container image and model data"
        )
    container = containers[0]
    environment = {
        **DEFAULT_MODEL_ENVIRONMENT,
        **(container.get("Environment") or {}),
        "MODEL_VERSION": str(target.version),
        "MODEL_PACKAGE_ARN": target.model_package_arn,
    }
    dataset_version = (package.get("CustomerMetadataProperties") or {}).get("dataset_version")
    if dataset_version:
        environment["DATASET_VERSION"] = dataset_version

    name = responder.rollback_resource_name(config, target.version, now)
    serving_model = sagemaker.describe_model(ModelName=serving.model_name)
    sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": container["Image"],
            "ModelDataUrl": container["ModelDataUrl"],
            "Environment": environment,
        },
        ExecutionRoleArn=model_role_arn,
        **{setting: serving_model[setting] for setting in MODEL_SETTINGS if serving_model.get(setting)},
    )

    current_config = sagemaker.describe_endpoint_config(EndpointConfigName=serving.endpoint_config_name)
    variants = [
        {**{setting: variant[setting] for setting in VARIANT_SETTINGS if setting in variant}, "ModelName": name}
        for variant in current_config["ProductionVariants"]
    ]
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=variants,
        **{setting: current_config[setting] for setting in ENDPOINT_CONFIG_SETTINGS if current_config.get(setting)},
    )
    # No deployment config: a rollback replaces the bad fleet at once rather than canarying it.
    sagemaker.update_endpoint(
        EndpointName=serving.endpoint_name,
        EndpointConfigName=name,
        RetainAllVariantProperties=False,
        RetainDeploymentConfig=False,
    )
    # The lineage metadata is passed back unchanged: an update without it can drop it (moto does).
    lineage = sagemaker.describe_model_package(ModelPackageName=serving.model_package_arn).get(
        "CustomerMetadataProperties"
    )
    sagemaker.update_model_package(
        ModelPackageArn=serving.model_package_arn,
        ModelApprovalStatus="Rejected",
        ApprovalDescription=responder.approval_description(reason),
        **({"CustomerMetadataProperties": lineage} if lineage else {}),
    )
    return {
        "model_name": name,
        "endpoint_config_name": name,
        "replaced_endpoint_config_name": serving.endpoint_config_name,
        "rejected_model_package_arn": serving.model_package_arn,
        "restored_model_package_arn": target.model_package_arn,
    }


# ---------------------------------------------------------------------------------------------
# Retraining dataset


def write_retraining_dataset(s3: Any, bucket: str, curated: CuratedDataset, key: str) -> dict[str, Any]:
    """Write the newest curated dataset's splits plus newer incoming CSVs with the same header
    to `key`, one CSV with one header."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES, mode="w+b") as spool:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        writer = csv.writer(text, lineterminator="\n")
        # Rows already in the dataset are not repeated: a re-sent file would otherwise fill the
        # retraining data with duplicates, which validation rejects.
        seen: set[bytes] = set()
        header, rows = _write_curated_splits(s3, bucket, curated, writer, seen)
        included, ignored = [], []
        incoming_rows = 0
        for item in _newer_incoming_csvs(s3, bucket, curated):
            copied = _copy_incoming_rows(s3, bucket, item["Key"], header, text, seen)
            if copied is None:
                ignored.append(item["Key"])
            else:
                included.append(item["Key"])
                rows += copied
                incoming_rows += copied
        if incoming_rows == 0:
            raise NoNewRowsError(
                f"no incoming rows arrived since dataset version {curated.dataset_version}, the newest data "
                f"already trained on ({len(ignored)} incoming file(s) of another header ignored)"
            )
        text.flush()
        text.detach()
        spool.seek(0)
        s3.upload_fileobj(spool, bucket, key, ExtraArgs={"ContentType": "text/csv"})
    logger.info("retraining dataset written", extra={"key": key, "rows": rows, "incoming": included})
    return {
        "dataset_key": key,
        "rows": rows,
        "curated_dataset_version": curated.dataset_version,
        "incoming_included": included,
        "incoming_ignored": ignored,
    }


def _split_file_keys(s3: Any, bucket: str, split_key: str) -> list[str]:
    """The split's one file, or its part files when a distributed training wrote it in parts
    (functions/validate_data/shards.py); the listing, not the file, says which."""
    folder = split_key.rsplit("/", 1)[0] + "/"
    listed = sorted(item["Key"] for item in _list_objects(s3, bucket, folder) if item["Key"].endswith(".csv"))
    return [split_key] if split_key in listed or not listed else listed


def _row_digest(row: list[str]) -> bytes:
    return hashlib.blake2b("\x1f".join(row).encode("utf-8"), digest_size=16).digest()


def _write_curated_splits(
    s3: Any, bucket: str, curated: CuratedDataset, writer: Any, seen: set[bytes]
) -> tuple[list[str], int]:
    header: list[str] = []
    rows = 0
    split_keys = [
        key for split in SPLITS for key in _split_file_keys(s3, bucket, curated_split_key(curated.dataset_version, split))
    ]
    for split_key in split_keys:
        try:
            reader = csv.reader(_open_text(s3, bucket, split_key))
            split_header = next(reader, None)
            if split_header is None:
                raise CuratedDatasetUnreadableError(f"{split_key} is empty")
            if not header:
                header = split_header
                writer.writerow(header)
            elif split_header != header:
                raise CuratedDatasetUnreadableError(f"{split_key} has a different header from the train split")
            for row in reader:
                if row:
                    seen.add(_row_digest(row))
                    writer.writerow(row)
                    rows += 1
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise CuratedDatasetUnreadableError(f"{split_key} does not exist") from error
            raise
        except (UnicodeDecodeError, csv.Error) as error:
            raise CuratedDatasetUnreadableError(f"{split_key} is not a UTF-8 CSV file") from error
    return header, rows


def _newer_incoming_csvs(s3: Any, bucket: str, curated: CuratedDataset) -> list[dict[str, Any]]:
    # Earlier retraining datasets are made of curated rows already; adding them would repeat rows.
    candidates = [
        item
        for item in _list_objects(s3, bucket, INCOMING_PREFIX)
        if item["Key"].lower().endswith(CSV_SUFFIX)
        and not item["Key"].startswith(responder.RETRAIN_DATASET_PREFIX)
        and item["LastModified"] > curated.manifest_last_modified
    ]
    return sorted(candidates, key=lambda item: (item["LastModified"], item["Key"]))


def _copy_incoming_rows(
    s3: Any, bucket: str, key: str, header: list[str], out: IO[str], seen: set[bytes]
) -> int | None:
    """Append the object's rows that are not in `seen` to `out` if it is a UTF-8 CSV with
    `header`; None when it is not. Rows are staged first so a file that turns out unreadable
    halfway adds nothing."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES, mode="w+", encoding="utf-8", newline="") as part:
        writer = csv.writer(part, lineterminator="\n")
        rows = 0
        added: set[bytes] = set()
        try:
            reader = csv.reader(_open_text(s3, bucket, key))
            if next(reader, None) != header:
                return None
            for row in reader:
                digest = _row_digest(row) if row else None
                if digest is not None and digest not in seen and digest not in added:
                    added.add(digest)
                    writer.writerow(row)
                    rows += 1
        except (UnicodeDecodeError, csv.Error):
            return None
        seen.update(added)
        part.seek(0)
        shutil.copyfileobj(part, out)
        return rows


def _open_text(s3: Any, bucket: str, key: str) -> IO[str]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    return io.TextIOWrapper(body, encoding="utf-8-sig", newline="")


# ---------------------------------------------------------------------------------------------
# Records


def write_audit_record(s3: Any, bucket: str, key: str, record: dict[str, Any]) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(record, indent=2, sort_keys=True).encode("utf-8"),
        ContentType="application/json",
    )


def publish_decision(sns: Any, topic_arn: str, *, subject: str, message: str) -> None:
    sns.publish(TopicArn=topic_arn, Subject=subject, Message=message)
