"""Validation reads the object version the event names: an overwrite during an execution cannot
make it validate, quarantine or curate other bytes."""

from __future__ import annotations

import hashlib

from functions.common.config import load_packaged_config
from functions.common.contracts import ValidateDataRequest
from functions.validate_data.service import validate_upload
from validate_data_support import DATA_BUCKET, ENDPOINT_NAME, MODEL_PACKAGE_GROUP, request_for, to_csv_bytes


def _validate(aws, key: str, version_id: str, execution_name: str):
    request = ValidateDataRequest.model_validate({**request_for(key, execution_name), "version_id": version_id})
    return validate_upload(
        request,
        load_packaged_config(),
        s3=aws.s3,
        sagemaker=aws.sagemaker,
        data_bucket=DATA_BUCKET,
        model_package_group=MODEL_PACKAGE_GROUP,
        endpoint_name=ENDPOINT_NAME,
    )


def _put_version(aws, key: str, body: bytes) -> str:
    return aws.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body)["VersionId"]


def test_an_overwrite_after_the_event_does_not_change_what_is_validated(aws, breast_cancer):
    # Given a versioned bucket, an upload, and the same key overwritten with broken bytes after its event
    aws.s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = "incoming/overwritten.csv"
    good = to_csv_bytes(breast_cancer)
    good_version = _put_version(aws, key, good)
    _put_version(aws, key, to_csv_bytes(breast_cancer.drop(columns=["target"])))

    # When the execution of the first upload validates it
    result = _validate(aws, key, good_version, "version-good")

    # Then the bytes of the version the event named were validated and curated
    assert result.outcome == "accepted", result.reason
    assert result.dataset_version == hashlib.sha256(good).hexdigest()
    assert result.rows == len(breast_cancer)


def test_a_rejected_version_is_quarantined_as_uploaded_even_after_an_overwrite(aws, breast_cancer):
    # Given a broken upload overwritten by good bytes before its execution validates it
    aws.s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = "incoming/fixed_later.csv"
    broken = to_csv_bytes(breast_cancer.drop(columns=["target"]))
    broken_version = _put_version(aws, key, broken)
    _put_version(aws, key, to_csv_bytes(breast_cancer))

    # When the execution of the broken upload validates it
    result = _validate(aws, key, broken_version, "version-broken")

    # Then the broken version is rejected and its own bytes are in quarantine
    assert result.outcome == "data_rejected"
    assert result.dataset_version == hashlib.sha256(broken).hexdigest()
    assert aws.get(result.quarantine_uri.removeprefix(f"s3://{DATA_BUCKET}/")) == broken


def test_the_request_takes_the_version_from_the_event_object_the_state_machine_passes():
    # Given the payload "Validate data" builds from an S3 event of a versioned bucket, and of an unversioned one
    payload = {"bucket": "b", "key": "incoming/a.csv", "execution_arn": "arn", "execution_name": "e"}
    versioned = {**payload, "object": {"key": "incoming/a.csv", "size": 8, "version-id": "3HL4kqtJ"}}
    unversioned = {**payload, "object": {"key": "incoming/a.csv", "size": 8}}

    # Then the request names that version, or none
    assert ValidateDataRequest.model_validate(versioned).version_id == "3HL4kqtJ"
    assert ValidateDataRequest.model_validate(unversioned).version_id is None
