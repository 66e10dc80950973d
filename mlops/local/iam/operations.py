"""What IAM evaluates for each AWS API operation the pipeline makes: the actions, the resource ARNs
and the request's condition keys, as the service authorizes them
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).

An operation missing from the table is refused for every principal but the operator: the local
cloud cannot say what AWS would decide, and an unchecked call is what this module exists to
prevent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlops.local.moto_access import LOCAL_ACCOUNT_ID, LOCAL_REGION


@dataclass(frozen=True)
class Authorization:
    """One action on one resource that a call needs; `resource_policy` names the resource whose
    policy AWS evaluates with it (a bucket, the key, the topic, the queue, a function)."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()
    resource_policy: str | None = None


class UnmodeledOperationError(Exception):
    """The local cloud does not know what IAM evaluates for this operation."""


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def sagemaker_arn(resource_type: str, name: str) -> str:
    return f"arn:aws:sagemaker:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:{resource_type}/{name.lower()}"


def _s3_object(action: str) -> Callable[[dict[str, Any]], list[Authorization]]:
    def requirements(params: dict[str, Any]) -> list[Authorization]:
        bucket = params["Bucket"]
        # A version's object and tags are read with s3:GetObjectVersion and s3:GetObjectVersionTagging
        # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectTagging.html, "Permissions").
        versioned = params.get("VersionId") and action in ("s3:GetObject", "s3:GetObjectTagging")
        versioned_action = action.replace("s3:GetObject", "s3:GetObjectVersion") if versioned else action
        return [Authorization(versioned_action, object_arn(bucket, params["Key"]), resource_policy=bucket_arn(bucket))]

    return requirements


def _s3_list(action: str) -> Callable[[dict[str, Any]], list[Authorization]]:
    def requirements(params: dict[str, Any]) -> list[Authorization]:
        bucket = params["Bucket"]
        context = (("s3:prefix", params["Prefix"]),) if params.get("Prefix") is not None else ()
        return [Authorization(action, bucket_arn(bucket), context, resource_policy=bucket_arn(bucket))]

    return requirements


def _s3_copy(params: dict[str, Any]) -> list[Authorization]:
    source = params["CopySource"]
    if isinstance(source, str):
        source_bucket, _, source_key = source.lstrip("/").partition("/")
        source_key = source_key.split("?versionId=")[0]
    else:
        source_bucket, source_key = source["Bucket"], source["Key"]
    return [
        Authorization("s3:GetObject", object_arn(source_bucket, source_key), resource_policy=bucket_arn(source_bucket)),
        Authorization(
            "s3:PutObject", object_arn(params["Bucket"], params["Key"]), resource_policy=bucket_arn(params["Bucket"])
        ),
    ]


def _sagemaker(action: str, resource_type: str, name_param: str) -> Callable[[dict[str, Any]], list[Authorization]]:
    def requirements(params: dict[str, Any]) -> list[Authorization]:
        name = params[name_param]
        resource = name if name.startswith("arn:") else sagemaker_arn(resource_type, name)
        return [Authorization(action, resource)]

    return requirements


def _model_package(action: str) -> Callable[[dict[str, Any]], list[Authorization]]:
    def requirements(params: dict[str, Any]) -> list[Authorization]:
        name = params.get("ModelPackageName") or params.get("ModelPackageArn")
        if name.startswith("arn:"):
            return [Authorization(action, name)]
        return [Authorization(action, sagemaker_arn("model-package", name))]

    return requirements


def _create_model_package(params: dict[str, Any]) -> list[Authorization]:
    group = params["ModelPackageGroupName"]
    group_name = group.rsplit("/", 1)[-1]
    # Creating a version is authorized on the version (group/N) and on its group.
    return [
        Authorization("sagemaker:CreateModelPackage", sagemaker_arn("model-package", f"{group_name}/*")),
    ]


def _passes_role(action: str, resource_type: str, name_param: str, role_param: str):
    base = _sagemaker(action, resource_type, name_param)

    def requirements(params: dict[str, Any]) -> list[Authorization]:
        found = base(params)
        role = params.get(role_param)
        if role:
            found.append(Authorization("iam:PassRole", role, (("iam:PassedToService", "sagemaker.amazonaws.com"),)))
        return found

    return requirements


def _unscoped(action: str) -> Callable[[dict[str, Any]], list[Authorization]]:
    return lambda params: [Authorization(action, "*")]


def _put_metric_data(params: dict[str, Any]) -> list[Authorization]:
    return [Authorization("cloudwatch:PutMetricData", "*", (("cloudwatch:namespace", params["Namespace"]),))]


def _alarm(action: str) -> Callable[[dict[str, Any]], list[Authorization]]:
    def requirements(params: dict[str, Any]) -> list[Authorization]:
        return [Authorization(action, f"arn:aws:cloudwatch:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:alarm:{params['AlarmName']}")]

    return requirements


def _describe_alarms(params: dict[str, Any]) -> list[Authorization]:
    names = params.get("AlarmNames") or ["*"]
    return [
        Authorization("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:alarm:{name}")
        for name in names
    ]


def _publish(params: dict[str, Any]) -> list[Authorization]:
    topic = params.get("TopicArn") or params.get("TargetArn")
    return [Authorization("sns:Publish", topic, resource_policy=topic)]


def _states(action: str, arn_param: str) -> Callable[[dict[str, Any]], list[Authorization]]:
    return lambda params: [Authorization(action, params[arn_param])]


def _start_execution(params: dict[str, Any]) -> list[Authorization]:
    return [Authorization("states:StartExecution", params["stateMachineArn"])]


def _invoke_function(params: dict[str, Any]) -> list[Authorization]:
    name = params["FunctionName"]
    arn = name if name.startswith("arn:") else f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:function:{name}"
    unqualified = ":".join(arn.split(":")[:7])
    return [Authorization("lambda:InvokeFunction", arn, resource_policy=unqualified)]


def _dynamodb(action: str) -> Callable[[dict[str, Any]], list[Authorization]]:
    def requirements(params: dict[str, Any]) -> list[Authorization]:
        table = params["TableName"]
        arn = table if table.startswith("arn:") else f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:table/{table}"
        return [Authorization(action, arn)]

    return requirements


def _invoke_endpoint(params: dict[str, Any]) -> list[Authorization]:
    return [Authorization("sagemaker:InvokeEndpoint", sagemaker_arn("endpoint", params["EndpointName"]))]


def _events_rule(action: str) -> Callable[[dict[str, Any]], list[Authorization]]:
    return lambda params: [
        Authorization(action, f"arn:aws:events:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:rule/{params['Rule']}")
    ]


# (botocore service name, operation name) -> what IAM evaluates.
OPERATIONS: dict[tuple[str, str], Callable[[dict[str, Any]], list[Authorization]]] = {
    ("s3", "GetObject"): _s3_object("s3:GetObject"),
    ("s3", "HeadObject"): _s3_object("s3:GetObject"),
    ("s3", "PutObject"): _s3_object("s3:PutObject"),
    ("s3", "CreateMultipartUpload"): _s3_object("s3:PutObject"),
    ("s3", "UploadPart"): _s3_object("s3:PutObject"),
    ("s3", "CompleteMultipartUpload"): _s3_object("s3:PutObject"),
    ("s3", "GetObjectTagging"): _s3_object("s3:GetObjectTagging"),
    ("s3", "AbortMultipartUpload"): _s3_object("s3:AbortMultipartUpload"),
    ("s3", "DeleteObject"): _s3_object("s3:DeleteObject"),
    ("s3", "CopyObject"): _s3_copy,
    ("s3", "UploadPartCopy"): _s3_copy,
    ("s3", "ListObjectsV2"): _s3_list("s3:ListBucket"),
    ("s3", "ListObjects"): _s3_list("s3:ListBucket"),
    ("s3", "ListObjectVersions"): _s3_list("s3:ListBucketVersions"),
    ("sagemaker", "DescribeModelPackage"): _model_package("sagemaker:DescribeModelPackage"),
    ("sagemaker", "UpdateModelPackage"): _model_package("sagemaker:UpdateModelPackage"),
    ("sagemaker", "CreateModelPackage"): _create_model_package,
    ("sagemaker", "ListModelPackages"): _unscoped("sagemaker:ListModelPackages"),
    ("sagemaker", "DescribeModelPackageGroup"): _sagemaker(
        "sagemaker:DescribeModelPackageGroup", "model-package-group", "ModelPackageGroupName"
    ),
    ("sagemaker", "CreateModelPackageGroup"): _sagemaker(
        "sagemaker:CreateModelPackageGroup", "model-package-group", "ModelPackageGroupName"
    ),
    ("sagemaker", "DescribeModel"): _sagemaker("sagemaker:DescribeModel", "model", "ModelName"),
    ("sagemaker", "DeleteModel"): _sagemaker("sagemaker:DeleteModel", "model", "ModelName"),
    ("sagemaker", "CreateModel"): _passes_role("sagemaker:CreateModel", "model", "ModelName", "ExecutionRoleArn"),
    ("sagemaker", "DescribeEndpointConfig"): _sagemaker(
        "sagemaker:DescribeEndpointConfig", "endpoint-config", "EndpointConfigName"
    ),
    ("sagemaker", "CreateEndpointConfig"): _sagemaker(
        "sagemaker:CreateEndpointConfig", "endpoint-config", "EndpointConfigName"
    ),
    ("sagemaker", "DescribeEndpoint"): _sagemaker("sagemaker:DescribeEndpoint", "endpoint", "EndpointName"),
    ("sagemaker", "CreateEndpoint"): _sagemaker("sagemaker:CreateEndpoint", "endpoint", "EndpointName"),
    ("sagemaker", "UpdateEndpoint"): _sagemaker("sagemaker:UpdateEndpoint", "endpoint", "EndpointName"),
    ("sagemaker", "ListEndpoints"): _unscoped("sagemaker:ListEndpoints"),
    ("sagemaker", "ListModels"): _unscoped("sagemaker:ListModels"),
    ("sagemaker", "DescribeTrainingJob"): _sagemaker("sagemaker:DescribeTrainingJob", "training-job", "TrainingJobName"),
    ("sagemaker", "CreateTrainingJob"): _passes_role(
        "sagemaker:CreateTrainingJob", "training-job", "TrainingJobName", "RoleArn"
    ),
    ("sagemaker", "DescribeProcessingJob"): _sagemaker(
        "sagemaker:DescribeProcessingJob", "processing-job", "ProcessingJobName"
    ),
    ("sagemaker", "CreateProcessingJob"): _passes_role(
        "sagemaker:CreateProcessingJob", "processing-job", "ProcessingJobName", "RoleArn"
    ),
    ("sagemaker", "DescribeTransformJob"): _sagemaker(
        "sagemaker:DescribeTransformJob", "transform-job", "TransformJobName"
    ),
    # A transform job passes no role: it runs as its model's execution role.
    ("sagemaker", "CreateTransformJob"): _sagemaker("sagemaker:CreateTransformJob", "transform-job", "TransformJobName"),
    ("sagemaker-runtime", "InvokeEndpoint"): _invoke_endpoint,
    ("cloudwatch", "PutMetricData"): _put_metric_data,
    ("cloudwatch", "DescribeAlarms"): _describe_alarms,
    ("cloudwatch", "SetAlarmState"): _alarm("cloudwatch:SetAlarmState"),
    ("sns", "Publish"): _publish,
    ("stepfunctions", "StartExecution"): _start_execution,
    ("stepfunctions", "DescribeExecution"): _states("states:DescribeExecution", "executionArn"),
    ("stepfunctions", "GetExecutionHistory"): _states("states:GetExecutionHistory", "executionArn"),
    ("lambda", "Invoke"): _invoke_function,
    ("dynamodb", "GetItem"): _dynamodb("dynamodb:GetItem"),
    ("dynamodb", "PutItem"): _dynamodb("dynamodb:PutItem"),
    ("dynamodb", "UpdateItem"): _dynamodb("dynamodb:UpdateItem"),
    ("dynamodb", "DeleteItem"): _dynamodb("dynamodb:DeleteItem"),
    # events:ListRules has no resource-level permissions.
    ("events", "ListRules"): _unscoped("events:ListRules"),
    ("events", "ListTargetsByRule"): _events_rule("events:ListTargetsByRule"),
}


def authorizations_for(service: str, operation: str, params: dict[str, Any]) -> list[Authorization]:
    requirements = OPERATIONS.get((service, operation))
    if requirements is None:
        raise UnmodeledOperationError(f"{service}:{operation}")
    return requirements(params)
