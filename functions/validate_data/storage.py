"""The S3 and model-registry side of data validation. Clients are passed in, never built here."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from functions.common import s3_layout
from functions.common.errors import PipelineError

HASH_BLOCK_BYTES = 8 * 1024 * 1024
MISSING_OBJECT_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
MISSING_GROUP_CODES = frozenset({"ResourceNotFound", "ValidationException"})
PRECONDITION_FAILED_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})


class SourceObjectMissingError(PipelineError):
    """The uploaded object named by the event is gone (deleted or overwritten before validation)."""


@dataclass(frozen=True)
class Baseline:
    """The drift baseline: the profile of the data the newest approved model was trained on."""

    model_package_arn: str | None
    profile_uri: str | None
    profile: dict[str, Any] | None
    note: str


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


def find_baseline(sagemaker: Any, s3: Any, model_package_group: str) -> Baseline:
    """Profile of the newest Approved model package in the group, if there is one."""
    try:
        listing = sagemaker.list_model_packages(
            ModelPackageGroupName=model_package_group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )
    except ClientError as error:
        if _code(error) in MISSING_GROUP_CODES:
            return Baseline(None, None, None, f"model package group {model_package_group} not found; drift not checked")
        raise
    summaries = listing.get("ModelPackageSummaryList", [])
    if not summaries:
        return Baseline(None, None, None, "no approved model yet: this is a first dataset, drift not checked")
    package_arn = summaries[0]["ModelPackageArn"]
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    profile_uri = package.get("CustomerMetadataProperties", {}).get("profile_uri")
    if not profile_uri:
        return Baseline(package_arn, None, None, f"approved model {package_arn} records no profile_uri; drift not checked")
    try:
        bucket, key = s3_layout.split_uri(profile_uri)
        profile = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ValueError, ClientError) as error:
        return Baseline(
            package_arn, profile_uri, None, f"baseline profile {profile_uri} could not be read ({type(error).__name__}); drift not checked"
        )
    return Baseline(package_arn, profile_uri, profile, f"compared with the training data of {package_arn}")


def _version(version_id: str | None) -> dict[str, str]:
    return {"VersionId": version_id} if version_id else {}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
