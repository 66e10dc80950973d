"""The local deployment versions the buckets the template versions, as CloudFormation does."""

from __future__ import annotations

import boto3
from moto import mock_aws

from mlops.local.deployment import _apply_ignored_properties
from mlops.local.standins import _s3_event

TEMPLATE = {
    "Resources": {
        "Data": {"Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "Enabled"}}},
        "Plain": {"Type": "AWS::S3::Bucket", "Properties": {}},
    }
}


def test_a_versioned_bucket_in_the_template_is_versioned_and_its_events_name_the_version(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        s3 = session.client("s3")
        for bucket in ("data-bucket", "plain-bucket"):
            s3.create_bucket(Bucket=bucket)

        _apply_ignored_properties(session, TEMPLATE, {"Data": "data-bucket", "Plain": "plain-bucket"})

        assert s3.get_bucket_versioning(Bucket="data-bucket")["Status"] == "Enabled"
        assert "Status" not in s3.get_bucket_versioning(Bucket="plain-bucket")
        version = s3.put_object(Bucket="data-bucket", Key="incoming/a.csv", Body=b"x\n1\n")["VersionId"]
        s3.put_object(Bucket="plain-bucket", Key="incoming/a.csv", Body=b"x\n1\n")

        from moto.s3.models import s3_backends

        buckets = s3_backends["123456789012"]["global"].buckets
        versioned = _s3_event(buckets["data-bucket"], "s3:ObjectCreated:Put", buckets["data-bucket"].keys["incoming/a.csv"])
        plain = _s3_event(buckets["plain-bucket"], "s3:ObjectCreated:Put", buckets["plain-bucket"].keys["incoming/a.csv"])
        assert versioned["detail"]["object"]["version-id"] == version
        assert "version-id" not in plain["detail"]["object"]
