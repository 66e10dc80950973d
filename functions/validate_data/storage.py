"""The S3 and model-registry side of data validation. Clients are passed in, never built here."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from functions.common import s3_layout
from functions.common.contracts import ChampionReference
from functions.common.errors import PipelineError
from functions.common.version_in_service import MISSING_GROUP_CODES, version_in_service

HASH_BLOCK_BYTES = 8 * 1024 * 1024
MISSING_OBJECT_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
PRECONDITION_FAILED_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})
# The reference holdout is the test rows of this many newest approved versions at most, so it
# stays a bounded input of the training job.
MAX_REFERENCE_VERSIONS = 20


class ChampionLookupError(PipelineError):
    """The version in service, or its registered version, cannot be read."""


class SourceObjectMissingError(PipelineError):
    """The uploaded object named by the event is gone (deleted or overwritten before validation)."""


@dataclass(frozen=True)
class Baseline:
    """The drift baseline: the profile of the data the version in service was trained on."""

    model_package_arn: str | None
    profile_uri: str | None
    profile: dict[str, Any] | None
    note: str
    champion: ChampionReference | None = None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(HASH_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


class DataStore:
    def __init__(self, s3: Any, data_bucket: str) -> None:
        self.s3 = s3
        self.bucket = data_bucket

    def object_size(self, bucket: str, key: str, version_id: str | None) -> int:
        try:
            response = self.s3.head_object(Bucket=bucket, Key=key, **_version(version_id))
        except ClientError as error:
            if _code(error) in MISSING_OBJECT_CODES:
                raise SourceObjectMissingError(f"s3://{bucket}/{key} does not exist") from error
            raise
        return int(response["ContentLength"])

    def download(self, bucket: str, key: str, version_id: str | None, path: Path) -> None:
        extra = {"VersionId": version_id} if version_id else None
        self.s3.download_file(bucket, key, str(path), ExtraArgs=extra)

    def read_json(self, key: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if _code(error) in MISSING_OBJECT_CODES:
                return None
            raise
        return json.loads(body)

    def put_json(self, key: str, document: dict[str, Any]) -> str:
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=json.dumps(document, indent=2, default=str).encode(), ContentType="application/json"
        )
        return s3_layout.s3_uri(self.bucket, key)

    def put_text(self, key: str, text: str, content_type: str) -> str:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type)
        return s3_layout.s3_uri(self.bucket, key)

    def claim_json(self, key: str, document: dict[str, Any]) -> dict[str, Any] | None:
        """Write `document` only if `key` does not exist; otherwise return what is there."""
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=json.dumps(document, indent=2, default=str).encode(),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as error:
            if _code(error) in PRECONDITION_FAILED_CODES:
                return self.read_json(key) or {}
            raise
        return None

    def upload_file(self, path: Path, key: str, content_type: str) -> str:
        self.s3.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})
        return s3_layout.s3_uri(self.bucket, key)

    def quarantine(self, bucket: str, key: str, version_id: str | None, execution_name: str) -> str:
        """Copy the upload under quarantine/<execution>/upload/; the original stays where it was."""
        target_key = s3_layout.quarantine_upload_key(execution_name, key)
        source: dict[str, str] = {"Bucket": bucket, "Key": key}
        if version_id:
            source["VersionId"] = version_id
        # The managed copy switches to a multipart copy for large objects; CopyObject stops at 5 GB.
        self.s3.copy(source, self.bucket, target_key)
        return s3_layout.s3_uri(self.bucket, target_key)

    def copy_version(self, bucket: str, key: str, version_id: str | None, target_key: str) -> str:
        """Copy one version of an object to `target_key` of the data bucket (multipart when large)."""
        source: dict[str, str] = {"Bucket": bucket, "Key": key, **_version(version_id)}
        self.s3.copy(source, self.bucket, target_key)
        return s3_layout.s3_uri(self.bucket, target_key)

    def copy(self, source_key: str, target_key: str, content_type: str) -> str:
        """Copy an object within the data bucket (multipart when large), with `content_type`."""
        self.s3.copy(
            {"Bucket": self.bucket, "Key": source_key},
            self.bucket,
            target_key,
            ExtraArgs={"ContentType": content_type, "MetadataDirective": "REPLACE"},
        )
        return s3_layout.s3_uri(self.bucket, target_key)


def find_baseline(
    sagemaker: Any, s3: Any, model_package_group: str, endpoint_name: str | None, data_bucket: str, execution_name: str
) -> Baseline:
    """The version in service (functions/common/version_in_service.py: the endpoint's, or with no
    endpoint, `endpoint_name` None, the newest approved version), which the upload will be compared
    with: its training profile (the drift baseline), its artifact and registered score, and the
    reference holdout.

    The execution holds the deployment lock from before validation to its end, so no other
    execution can change what is in service between this check and the gate's decision."""
    try:
        serving = version_in_service(sagemaker, model_package_group=model_package_group, endpoint_name=endpoint_name)
    except ClientError as error:
        where = f"on endpoint {endpoint_name}" if endpoint_name else f"in {model_package_group}"
        raise ChampionLookupError(f"cannot read the version in service {where}: {_code(error)}") from error
    if serving is None:
        first = "no model serves yet" if endpoint_name else "no version is approved yet"
        return Baseline(None, None, None, f"{first}: this is a first dataset, drift not checked")
    if serving.model_package_arn is None:
        return Baseline(
            None, None, None, f"the model serving on {endpoint_name} names no registered version; drift not checked"
        )
    package_arn = serving.model_package_arn
    try:
        package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    except ClientError as error:
        raise ChampionLookupError(f"cannot describe the serving version {package_arn}: {_code(error)}") from error
    metadata = package.get("CustomerMetadataProperties") or {}
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or [{}]
    artifact = containers[0].get("ModelDataUrl")
    if not artifact:
        raise ChampionLookupError(f"the serving version {package_arn} records no model artifact, so it cannot be scored")
    champion = ChampionReference(
        model_package_arn=package_arn,
        model_version=int(package["ModelPackageVersion"]) if package.get("ModelPackageVersion") else serving.model_version,
        model_artifact=artifact,
        primary_metric=metadata.get("primary_metric"),
        registered_score=_registered_score(metadata.get("primary_metric_value")),
        serves=serving.serves,
    )
    champion = _with_reference_holdout(champion, sagemaker, s3, model_package_group, data_bucket, execution_name)
    profile_uri = metadata.get("profile_uri")
    if not profile_uri:
        return Baseline(package_arn, None, None, f"serving version {package_arn} records no profile_uri; drift not checked", champion)
    try:
        bucket, key = s3_layout.split_uri(profile_uri)
        profile = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ValueError, ClientError) as error:
        return Baseline(
            package_arn,
            profile_uri,
            None,
            f"baseline profile {profile_uri} could not be read ({type(error).__name__}); drift not checked",
            champion,
        )
    return Baseline(package_arn, profile_uri, profile, f"compared with the training data of {package_arn}", champion)


def _registered_score(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def approved_dataset_versions(sagemaker: Any, model_package_group: str) -> list[str]:
    """The dataset versions of the approved versions, newest first, at most MAX_REFERENCE_VERSIONS."""
    versions: list[str] = []
    paginator = sagemaker.get_paginator("list_model_packages")
    pages = paginator.paginate(
        ModelPackageGroupName=model_package_group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
    )
    for page in pages:
        for summary in page.get("ModelPackageSummaryList", []):
            package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            version = (package.get("CustomerMetadataProperties") or {}).get("dataset_version")
            if version and version not in versions:
                versions.append(version)
            if len(versions) >= MAX_REFERENCE_VERSIONS:
                return versions
    return versions


def _with_reference_holdout(
    champion: ChampionReference, sagemaker: Any, s3: Any, model_package_group: str, data_bucket: str, execution_name: str
) -> ChampionReference:
    """Write a SageMaker manifest of the approved versions' test splits (the reference holdout)."""
    try:
        versions = approved_dataset_versions(sagemaker, model_package_group)
    except ClientError as error:
        if _code(error) in MISSING_GROUP_CODES:
            return champion
        raise ChampionLookupError(f"cannot list the approved versions of {model_package_group}: {_code(error)}") from error
    existing = [version for version in versions if _exists(s3, data_bucket, s3_layout.curated_split_key(version, "test"))]
    if not existing:
        return champion
    # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html: a manifest
    # is a JSON array of a {"prefix": ...} object followed by keys relative to it.
    manifest = [{"prefix": s3_layout.s3_uri(data_bucket, s3_layout.CURATED_PREFIX)}] + [
        s3_layout.curated_split_key(version, "test").removeprefix(s3_layout.CURATED_PREFIX) for version in existing
    ]
    key = s3_layout.reference_manifest_key(execution_name)
    s3.put_object(Bucket=data_bucket, Key=key, Body=json.dumps(manifest).encode("utf-8"), ContentType="application/json")
    return champion.model_copy(
        update={"reference_manifest_uri": s3_layout.s3_uri(data_bucket, key), "reference_dataset_versions": existing}
    )


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _code(error) in MISSING_OBJECT_CODES:
            return False
        raise
    return True


def _version(version_id: str | None) -> dict[str, str]:
    return {"VersionId": version_id} if version_id else {}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
