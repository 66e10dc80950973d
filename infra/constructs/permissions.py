"""Least-privilege IAM statements the pipeline's roles share: S3 prefixes, the KMS key and
SageMaker resource ARNs. Every wildcard here is acknowledged for cdk-nag where it is made."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack, aws_iam as iam, aws_kms as kms, aws_s3 as s3
from constructs import IConstruct

from infra.constructs.nag import acknowledge, nag_text

KEY_READ_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
KEY_WRITE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
OBJECT_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


def grant_bucket_prefixes(
    role: iam.Role,
    bucket: s3.IBucket,
    *,
    read: Sequence[str] = (),
    write: Sequence[str] = (),
    purpose: str,
) -> None:
    """Object reads and writes under `read`/`write` prefixes, plus listing those prefixes."""
    findings: list[str] = []
    if read:
        resources = [bucket.arn_for_objects(f"{prefix}*") for prefix in read]
        role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject", "s3:GetObjectVersion"], resources=resources))
        findings += [f"Resource::{nag_text(role, arn)}" for arn in resources]
    if write:
        resources = [bucket.arn_for_objects(f"{prefix}*") for prefix in write]
        role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=resources))
        findings += [f"Resource::{nag_text(role, arn)}" for arn in resources if f"Resource::{nag_text(role, arn)}" not in findings]
    listed = sorted({*read, *write})
    if listed:
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in listed]}},
            )
        )
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        f"Object-level access is limited to the prefixes {', '.join(listed)} of the {purpose}; "
        "object names (content hashes, execution names) are only known at run time.",
        findings=findings,
    )


def grant_key(role: iam.Role, key: kms.IKey, *, write: bool) -> None:
    role.add_to_policy(
        iam.PolicyStatement(actions=list(KEY_WRITE_ACTIONS if write else KEY_READ_ACTIONS), resources=[key.key_arn])
    )


def grant_key_grants_for_sagemaker(role: iam.Role, key: kms.IKey) -> None:
    """SageMaker creates grants on the key for encrypted volumes and endpoint storage."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["kms:CreateGrant"],
            resources=[key.key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        )
    )


def sagemaker_arn(scope: IConstruct, resource: str, name: str) -> str:
    return Stack.of(scope).format_arn(
        service="sagemaker", resource=resource, resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
    )


def project_pattern(project: str) -> str:
    """Names of the SageMaker jobs, models and endpoint configs the pipeline creates:
    "<project>-" and the rest. The config refuses a "-" in project names, so no other
    project's names start with "<project>-" (project "mlops" cannot reach "mlops-foo-...")."""
    return f"{project}-*"


def acknowledge_sagemaker_patterns(role: iam.IConstruct, arns: Sequence[str], reason: str) -> None:
    findings = sorted({f"Resource::{nag_text(role, arn)}" for arn in arns if "*" in arn})
    acknowledge(role, "AwsSolutions-IAM5", reason, findings=findings)


def grant_list_model_packages(role: iam.Role) -> None:
    role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:ListModelPackages"], resources=["*"]))
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        "sagemaker:ListModelPackages, sagemaker:ListEndpoints and the X-Ray tracing actions have "
        "no resource-level permissions.",
        findings=["Resource::*"],
    )


def grant_model_packages(role: iam.Role, group_name: str, actions: Sequence[str], *, include_group: bool) -> None:
    """`actions` on the versions of one model package group (and on the group itself)."""
    package_arn = sagemaker_arn(role, "model-package", f"{group_name}/*")
    resources = [package_arn]
    if include_group:
        resources.append(sagemaker_arn(role, "model-package-group", group_name))
    role.add_to_policy(iam.PolicyStatement(actions=list(actions), resources=resources))
    acknowledge_sagemaker_patterns(
        role,
        [package_arn],
        f"Limited to the versions of the {group_name} model package group; version numbers "
        "are assigned by the registry at run time.",
    )


def grant_key_for_objects(role: iam.Role, key: kms.IKey) -> None:
    """Reading and writing objects encrypted with the key (SSE-KMS), nothing more."""
    role.add_to_policy(iam.PolicyStatement(actions=list(OBJECT_KEY_ACTIONS), resources=[key.key_arn]))


def grant_objects(
    role: iam.Role,
    bucket: s3.IBucket,
    *,
    actions: Sequence[str],
    keys: Sequence[str],
    reason: str,
) -> None:
    """`actions` on exactly the objects `keys` name (keys or key patterns ending in "*")."""
    resources = [bucket.arn_for_objects(key) for key in keys]
    role.add_to_policy(iam.PolicyStatement(actions=list(actions), resources=resources))
    findings = [f"Resource::{nag_text(role, arn)}" for key, arn in zip(keys, resources) if "*" in key]
    if findings:
        acknowledge(role, "AwsSolutions-IAM5", reason, findings=findings)


def grant_list_prefix(role: iam.Role, bucket: s3.IBucket, prefix: str) -> None:
    """s3:ListBucket of `prefix` and of the folders below it, no other part of the bucket."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}},
        )
    )


def grant_put_metric_data(role: iam.Role, namespace: str) -> None:
    """cloudwatch:PutMetricData has no resource-level permissions; the namespace condition
    keeps the function to its own metrics."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
        )
    )


def _sagemaker_log_group_arns(stack: Stack, log_group: str, stream_prefix: str) -> tuple[str, str]:
    """The log group SageMaker writes to and the streams of this stack's jobs or endpoint in it:
    SageMaker names a job's streams `<job name>/algo-<n>-<time>`, so a prefix of the stack's
    job names keeps other projects' streams out; an endpoint has a group of its own."""
    group_arn = stack.format_arn(
        service="logs", resource="log-group", resource_name=log_group, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )
    return group_arn, f"{group_arn}:log-stream:{stream_prefix}*"


def sagemaker_log_statements(stack: Stack, log_group: str, stream_prefix: str) -> list[iam.PolicyStatement]:
    group_arn, stream_arn = _sagemaker_log_group_arns(stack, log_group, stream_prefix)
    return [
        iam.PolicyStatement(
            sid="CreateLogGroup",
            actions=["logs:CreateLogGroup", "logs:DescribeLogStreams", "logs:CreateLogStream"],
            resources=[group_arn],
        ),
        iam.PolicyStatement(
            sid="WriteLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[stream_arn],
        ),
    ]


def sagemaker_metric_statement(namespace: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="PutMetrics",
        actions=["cloudwatch:PutMetricData"],
        resources=["*"],
        conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
    )


def acknowledge_sagemaker_logs_and_metrics(role: iam.Role, stack: Stack, log_group: str, stream_prefix: str) -> None:
    group_arn, stream_arn = _sagemaker_log_group_arns(stack, log_group, stream_prefix)
    findings = [f"Resource::{nag_text(role, arn)}" for arn in (group_arn, stream_arn) if "*" in arn]
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        "SageMaker names its log streams at run time after the job; the streams are limited "
        f"to {stream_prefix or 'the endpoint'}* in the {log_group} log group.",
        findings=findings,
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        "cloudwatch:PutMetricData has no resource-level permissions; the statement is limited "
        "to the SageMaker namespace by a condition.",
        findings=["Resource::*"],
    )


def grant_missing_object_answers(role: iam.Role, bucket: s3.IBucket) -> None:
    """s3:ListBucket on the bucket itself, with no s3:prefix condition, for a role that reads
    keys that may not exist yet: without it S3 answers such a read with 403 AccessDenied, not
    404 NoSuchKey, and the check for the permission carries no prefix
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions")."""
    role.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))


def grant_read_serving_model(role: iam.Role, project: str, endpoint_name: str) -> None:
    """DescribeEndpoint, -EndpointConfig and -Model on what this stack deploys: which version
    serves on its endpoint (functions/common/serving_model.py)."""
    endpoint = sagemaker_arn(role, "endpoint", endpoint_name.lower())
    endpoint_configs = sagemaker_arn(role, "endpoint-config", project_pattern(project))
    models = sagemaker_arn(role, "model", project_pattern(project))
    role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:DescribeEndpoint"], resources=[endpoint]))
    role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:DescribeEndpointConfig"], resources=[endpoint_configs]))
    role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:DescribeModel"], resources=[models]))
    acknowledge_sagemaker_patterns(
        role,
        [endpoint_configs, models],
        f"Limited to the endpoint configs and models the pipeline names with the '{project}-' prefix; "
        "their names carry the model version and execution.",
    )
