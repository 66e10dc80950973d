"""The local cloud's IAM enforcement on its own: calls made as a role are evaluated against its
policies (Resource and Condition included) and the bucket's policy, refused calls raise the
error AWS gives, and S3 answers 403 for a missing key to a caller that may not list the bucket."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from mlops.local.iam.enforcement import OPERATOR_ARN, OPERATOR_POLICY, Enforcement, acting_as, enforced
from mlops.local.iam.evaluator import PolicyEvaluator
from mlops.local.iam.operations import Authorization, UnmodeledOperationError
from mlops.local.moto_access import LOCAL_ACCOUNT_ID

BUCKET = "pipeline-data"
READER = f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/reader"
LISTER = f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/lister"


def _policy(*statements: dict) -> list[dict]:
    return [{"name": "inline", "policy": {"Version": "2012-10-17", "Statement": list(statements)}}]


READ_CURATED = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/curated/*"}
LIST_CURATED = {
    "Effect": "Allow",
    "Action": "s3:ListBucket",
    "Resource": f"arn:aws:s3:::{BUCKET}",
    "Condition": {"StringLike": {"s3:prefix": ["curated/*"]}},
}
LIST_BUCKET = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"}
DENY_PLAIN_HTTP = {
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "s3:*",
    "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
DENY_REPORTS = {
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "s3:GetObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/curated/secret/*",
}


@pytest.fixture(scope="module")
def enforcement():
    evaluator = PolicyEvaluator(
        identity={
            READER: _policy(READ_CURATED, LIST_CURATED),
            LISTER: _policy(READ_CURATED, LIST_BUCKET),
            OPERATOR_ARN: [OPERATOR_POLICY],
        },
        resource={f"arn:aws:s3:::{BUCKET}": {"Version": "2012-10-17", "Statement": [DENY_PLAIN_HTTP, DENY_REPORTS]}},
        account=LOCAL_ACCOUNT_ID,
    )
    yield Enforcement(evaluator)
    evaluator.close()


@pytest.fixture
def s3(enforcement, aws_environment):
    with mock_aws(), enforced(enforcement):
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="curated/abc/manifest.json", Body=b"{}")
        client.put_object(Bucket=BUCKET, Key="curated/secret/key.txt", Body=b"x")
        yield client


def _error(call) -> dict:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response


def test_a_role_reads_what_its_policy_names(s3):
    with acting_as(READER):
        assert s3.get_object(Bucket=BUCKET, Key="curated/abc/manifest.json")["Body"].read() == b"{}"


def test_a_read_outside_the_policys_resource_is_refused_naming_role_action_and_resource(s3):
    with acting_as(READER):
        error = _error(lambda: s3.get_object(Bucket=BUCKET, Key="incoming/data.csv"))

    assert error["Error"]["Code"] == "AccessDenied"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Message"] == (
        f"User: arn:aws:sts::{LOCAL_ACCOUNT_ID}:assumed-role/reader/local is not authorized to perform: "
        f"s3:GetObject on resource: arn:aws:s3:::{BUCKET}/incoming/data.csv because no policy allows the s3:GetObject action"
    )


def test_an_explicit_deny_in_the_bucket_policy_wins_over_the_role(s3):
    with acting_as(LISTER):
        error = _error(lambda: s3.get_object(Bucket=BUCKET, Key="curated/secret/key.txt"))

    assert error["Error"]["Message"].endswith("with an explicit deny in a policy")


def test_listing_is_limited_by_the_s3_prefix_condition(s3):
    with acting_as(READER):
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="curated/abc/")
        error = _error(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix="incoming/"))

    assert [item["Key"] for item in listed["Contents"]] == ["curated/abc/manifest.json"]
    assert "s3:ListBucket on resource: arn:aws:s3:::pipeline-data" in error["Error"]["Message"]


def test_a_missing_key_is_403_without_bucket_listing_and_404_with_it(s3):
    missing = "curated/new/manifest.json"
    with acting_as(READER):
        refused = _error(lambda: s3.get_object(Bucket=BUCKET, Key=missing))
        head_refused = _error(lambda: s3.head_object(Bucket=BUCKET, Key=missing))
    with acting_as(LISTER):
        not_found = _error(lambda: s3.get_object(Bucket=BUCKET, Key=missing))
        head_not_found = _error(lambda: s3.head_object(Bucket=BUCKET, Key=missing))

    assert (refused["Error"]["Code"], refused["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert "s3:ListBucket" in refused["Error"]["Message"]
    assert (head_refused["Error"]["Code"], head_refused["ResponseMetadata"]["HTTPStatusCode"]) == ("403", 403)
    assert (not_found["Error"]["Code"], not_found["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchKey", 404)
    assert head_not_found["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_the_operator_is_an_administrator_to_whom_the_bucket_policy_still_applies(s3):
    s3.put_object(Bucket=BUCKET, Key="incoming/data.csv", Body=b"a,b\n")
    error = _error(lambda: s3.get_object(Bucket=BUCKET, Key="curated/secret/key.txt"))

    assert s3.get_object(Bucket=BUCKET, Key="incoming/data.csv")["Body"].read() == b"a,b\n"
    assert error["Error"]["Message"].startswith(f"User: {OPERATOR_ARN} is not authorized to perform: s3:GetObject")


def test_a_role_calling_an_operation_the_local_cloud_cannot_evaluate_fails_loudly(s3):
    with acting_as(READER), pytest.raises(UnmodeledOperationError, match="s3:GetBucketTagging"):
        s3.get_bucket_tagging(Bucket=BUCKET)


LOGS_PRINCIPAL = "logs.us-east-1.amazonaws.com"
KEY = f"arn:aws:kms:us-east-1:{LOCAL_ACCOUNT_ID}:key/0e5c9a1c-0000-4000-8000-000000000001"
LOG_GROUP_ARNS = f"arn:aws:logs:us-east-1:{LOCAL_ACCOUNT_ID}:log-group:pipeline-*"


def test_a_key_policy_condition_on_the_encryption_context_is_evaluated():
    """CloudWatch Logs uses the key in an encryption context that names the log group; the key
    policy's ArnLike on kms:EncryptionContext:aws:logs:arn decides which groups it may encrypt."""
    # Given a key policy that lets CloudWatch Logs use the key for the pipeline's log groups only
    key_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": LOGS_PRINCIPAL},
                "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": LOG_GROUP_ARNS}},
            }
        ],
    }
    evaluator = PolicyEvaluator(identity={}, resource={KEY: key_policy}, account=LOCAL_ACCOUNT_ID)
    try:
        def use(log_group: str) -> bool:
            context = (("kms:EncryptionContext:aws:logs:arn", f"arn:aws:logs:us-east-1:{LOCAL_ACCOUNT_ID}:log-group:{log_group}"),)
            return evaluator.decide(LOGS_PRINCIPAL, Authorization("kms:Encrypt", KEY, context, resource_policy=KEY)).allowed

        # When CloudWatch Logs encrypts for one of them, and for another log group of the account
        # Then only the first is allowed
        assert use("pipeline-validate-data")
        assert not use("someone-elses-group")
    finally:
        evaluator.close()


def test_a_key_longer_than_s3_takes_is_refused_as_s3_refuses_it(s3):
    # Given a key of 1,025 bytes of UTF-8 (moto alone would store it) and one of exactly 1,024
    too_long = "quarantine/" + "ü" * 507
    at_limit = "quarantine/" + "x" * (1024 - len("quarantine/"))
    # When the operator writes both
    with acting_as(OPERATOR_ARN):
        refused = _error(lambda: s3.put_object(Bucket=BUCKET, Key=too_long, Body=b"x"))
        s3.put_object(Bucket=BUCKET, Key=at_limit, Body=b"x")
    # Then the longer one is refused with S3's error and the other is stored
    assert len(too_long.encode("utf-8")) == 1025
    assert refused["Error"]["Code"] == "KeyTooLongError"
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert s3.head_object(Bucket=BUCKET, Key=at_limit)["ContentLength"] == 1
