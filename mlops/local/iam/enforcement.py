"""Who is calling, and whether IAM lets them.

`acting_as(principal)` marks the calls made inside it as made by that principal: a Lambda
function's role while its handler runs, the state machine's role while the interpreter runs a
task, a SageMaker execution role while a job reads and writes on its behalf. Calls made outside
any of these are the operator's, the person running the CLI or the tests, modelled as an
administrator of the account (resource policies still apply to them).

A botocore hook, registered for every client this process creates, maps each call to what IAM
evaluates (mlops.local.iam.operations) and answers a refused call with the error AWS gives, so the
caller's own error handling sees what it would see in AWS."""

from __future__ import annotations

import contextvars
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore import handlers as botocore_handlers
from botocore.awsrequest import AWSResponse

from mlops.local import moto_access
from mlops.local.iam.evaluator import Decision, PolicyEvaluator
from mlops.local.iam.keys import key_arn, topic_key
from mlops.local.iam.operations import (
    Authorization,
    UnmodeledOperationError,
    authorizations_for,
    bucket_arn,
)

OPERATOR_ARN = f"arn:aws:iam::{moto_access.LOCAL_ACCOUNT_ID}:user/local-operator"
# The operator's credentials in AWS are the user's own; locally they are an administrator's.
OPERATOR_POLICY = {
    "name": "AdministratorAccess",
    "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
}
HTTP_FORBIDDEN = 403
HTTP_BAD_REQUEST = 400
MAX_S3_KEY_BYTES = 1024
# The error code each service answers a refused call with.
ACCESS_DENIED_CODES = {"s3": "AccessDenied", "cloudwatch": "AccessDenied", "sqs": "AccessDenied", "sns": "AuthorizationError"}
DEFAULT_ACCESS_DENIED_CODE = "AccessDeniedException"
PARAMS_CONTEXT_KEY = "mlops_local_iam_params"
CHECKED_CONTEXT_KEY = "mlops_local_iam_checked"
S3_VIA_SERVICE = f"s3.{moto_access.LOCAL_REGION}.amazonaws.com"
# Operations that write an object, which S3 encrypts with the bucket's KMS key for the caller.
S3_OBJECT_WRITES = {"PutObject", "CreateMultipartUpload", "CopyObject"}
S3_OBJECT_READS = {"GetObject", "CopyObject", "UploadPartCopy"}

_principal: contextvars.ContextVar[str | None] = contextvars.ContextVar("mlops_local_principal", default=None)
_active: Enforcement | None = None
_active_lock = threading.Lock()


class AccessDeniedError(Exception):
    """IAM refused a call; the message names the principal, the action and the resource, as AWS's does."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(denial_message(decision))


def denial_message(decision: Decision) -> str:
    authorization = decision.authorization
    why = (
        "with an explicit deny in a policy"
        if decision.result == "ExplicitlyDenied"
        else f"because no policy allows the {authorization.action} action"
    )
    return f"User: {caller_arn(decision.principal)} is not authorized to perform: {authorization.action} on resource: {authorization.resource} {why}"


def caller_arn(principal: str) -> str:
    """How AWS names a role's caller in an error: its assumed-role session."""
    if ":role/" in principal:
        account = principal.split(":")[4]
        return f"arn:aws:sts::{account}:assumed-role/{principal.rsplit('/', 1)[-1]}/local"
    return principal


@contextmanager
def acting_as(principal: str | None) -> Iterator[None]:
    token = _principal.set(principal)
    try:
        yield
    finally:
        _principal.reset(token)


def current_principal() -> str:
    return _principal.get() or OPERATOR_ARN


@dataclass
class Enforcement:
    evaluator: PolicyEvaluator

    def decide(self, principal: str, authorization: Authorization) -> Decision:
        return self.evaluator.decide(principal, authorization)

    def authorize(self, principal: str, authorizations: Iterable[Authorization]) -> None:
        for authorization in authorizations:
            decision = self.decide(principal, authorization)
            if not decision.allowed:
                raise AccessDeniedError(decision)


def key_use(action: str, key: str, via_service: str) -> Authorization:
    return Authorization(
        action,
        key,
        (("kms:ViaService", via_service), ("kms:CallerAccount", moto_access.LOCAL_ACCOUNT_ID)),
        resource_policy=key,
    )


def authorize(principal: str, authorizations: Iterable[Authorization]) -> None:
    """For the stand-ins that act for a principal without a botocore call (a job reading its
    input as its execution role); nothing is checked while enforcement is off."""
    enforcement = _active
    if enforcement is not None:
        enforcement.authorize(principal, authorizations)


def allowed(principal: str, authorization: Authorization) -> bool:
    enforcement = _active
    return enforcement is None or enforcement.decide(principal, authorization).allowed


def bucket_key(bucket: str) -> str | None:
    """The KMS key ARN a bucket's default encryption uses, if SSE-KMS."""
    if _active is None:
        return None
    stored = moto_access.s3_backend().get_bucket(bucket)
    rules = (stored.encryption or {}).get("Rule", [])
    for rule in [rules] if isinstance(rules, dict) else rules:
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        if default.get("SSEAlgorithm") == "aws:kms":
            return key_arn(default.get("KMSMasterKeyID"))
    return None


def object_key(bucket: str, key: str) -> str | None:
    """The KMS key ARN an object is encrypted with, if SSE-KMS (S3 encrypts every object of a
    bucket whose default is SSE-KMS, which moto does not record on the object)."""
    if _active is None:
        return None
    try:
        stored = moto_access.s3_backend().get_object(bucket, key)
    except Exception:  # moto raises its own missing-key errors; a missing object uses no key
        return None
    if stored is None:
        return None
    if stored.encryption == "aws:kms" and stored.kms_key_id:
        return key_arn(stored.kms_key_id)
    return bucket_key(bucket)


@contextmanager
def enforced(enforcement: Enforcement) -> Iterator[Enforcement]:
    """Enforce IAM on every call of this process for the duration of the block."""
    global _active
    with _active_lock:
        _active = enforcement
    _register_on_default_session()
    try:
        yield enforcement
    finally:
        with _active_lock:
            _active = None


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[PARAMS_CONTEXT_KEY] = dict(params)


def _check_call(model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    enforcement = _active
    if enforcement is None or context.get(CHECKED_CONTEXT_KEY):
        return None
    context[CHECKED_CONTEXT_KEY] = True
    service = model.service_model.service_name
    operation = model.name
    params = context.get(PARAMS_CONTEXT_KEY, {})
    if service == "s3" and _key_too_long(params):
        return _response(HTTP_BAD_REQUEST, {"Error": {"Code": "KeyTooLongError", "Message": "Your key is too long"}})
    principal = current_principal()
    try:
        required = authorizations_for(service, operation, params)
    except UnmodeledOperationError:
        if principal == OPERATOR_ARN:
            return None
        raise
    required += _key_uses(service, operation, params)
    for authorization in required:
        decision = enforcement.decide(principal, authorization)
        if not decision.allowed:
            return _refusal(service, operation, denial_message(decision))
    grant = _sagemaker_key_grant(service, operation, params)
    if grant is not None:
        decision = enforcement.decide(principal, grant)
        passed_role = params.get("RoleArn")
        if not decision.allowed and not (passed_role and enforcement.decide(passed_role, grant).allowed):
            return _refusal(service, operation, denial_message(decision))
    if service == "s3" and operation in ("GetObject", "HeadObject"):
        return _missing_object_refusal(enforcement, principal, operation, params)
    return None


def _key_too_long(params: dict[str, Any]) -> bool:
    """S3 refuses an object key longer than 1,024 bytes of UTF-8 with 400 KeyTooLongError
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html; the error in
    https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html); moto stores it."""
    key = params.get("Key")
    return isinstance(key, str) and len(key.encode("utf-8")) > MAX_S3_KEY_BYTES


def _key_uses(service: str, operation: str, params: dict[str, Any]) -> list[Authorization]:
    """The KMS key use a service makes for the caller: S3 when it encrypts or decrypts an object,
    SNS when it encrypts a message for a topic encrypted with the key
    (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html: the publisher needs
    kms:GenerateDataKey* and kms:Decrypt)."""
    if service == "sns" and operation == "Publish":
        key = topic_key(params.get("TopicArn") or params.get("TargetArn") or "")
        via = f"sns.{moto_access.LOCAL_REGION}.amazonaws.com"
        return [key_use(action, key, via) for action in ("kms:GenerateDataKey", "kms:Decrypt")] if key else []
    if service != "s3":
        return []
    uses = []
    if operation in S3_OBJECT_WRITES:
        key = key_arn(params["SSEKMSKeyId"]) if params.get("SSEKMSKeyId") else bucket_key(params["Bucket"])
        if key:
            uses.append(key_use("kms:GenerateDataKey", key, S3_VIA_SERVICE))
    if operation in S3_OBJECT_READS:
        bucket, key_name = _read_object(operation, params)
        key = object_key(bucket, key_name)
        if key:
            uses.append(key_use("kms:Decrypt", key, S3_VIA_SERVICE))
    return uses


def _sagemaker_key_grant(service: str, operation: str, params: dict[str, Any]) -> Authorization | None:
    """SageMaker encrypts a job's or an endpoint's storage volumes with the key through a grant it
    creates with the caller's rights: kms:CreateGrant is "required only if the associated
    ResourceConfig has a specified VolumeKmsKeyId and the associated role does not have a policy
    that permits this action" for jobs, and "only if the associated EndpointConfig has a KmsKeyId"
    for endpoints (https://docs.aws.amazon.com/sagemaker/latest/dg/api-permissions-reference.html).
    The grant is for an AWS resource, which is the condition key policies use to allow it."""
    if service != "sagemaker":
        return None
    key_id = None
    if operation == "CreateTrainingJob":
        key_id = params.get("ResourceConfig", {}).get("VolumeKmsKeyId")
    elif operation == "CreateProcessingJob":
        key_id = params.get("ProcessingResources", {}).get("ClusterConfig", {}).get("VolumeKmsKeyId")
    elif operation == "CreateTransformJob":
        key_id = params.get("TransformResources", {}).get("VolumeKmsKeyId")
    elif operation in ("CreateEndpoint", "UpdateEndpoint"):
        key_id = _endpoint_config_key(params["EndpointConfigName"])
    key = key_arn(key_id) if key_id else None
    if key is None:
        return None
    return Authorization(
        "kms:CreateGrant",
        key,
        (
            ("kms:GrantIsForAWSResource", "true"),
            ("kms:ViaService", f"sagemaker.{moto_access.LOCAL_REGION}.amazonaws.com"),
            ("kms:CallerAccount", moto_access.LOCAL_ACCOUNT_ID),
        ),
        resource_policy=key,
    )


def _endpoint_config_key(endpoint_config_name: str) -> str | None:
    from moto.sagemaker.models import sagemaker_backends

    configs = sagemaker_backends[moto_access.LOCAL_ACCOUNT_ID][moto_access.LOCAL_REGION].endpoint_configs
    config = configs.get(endpoint_config_name)
    return getattr(config, "kms_key_id", None) if config is not None else None


def _read_object(operation: str, params: dict[str, Any]) -> tuple[str, str]:
    if operation in ("CopyObject", "UploadPartCopy"):
        source = params["CopySource"]
        if isinstance(source, str):
            bucket, _, key = source.lstrip("/").partition("/")
            return bucket, key.split("?versionId=")[0]
        return source["Bucket"], source["Key"]
    return params["Bucket"], params["Key"]


def _missing_object_refusal(
    enforcement: Enforcement, principal: str, operation: str, params: dict[str, Any]
) -> tuple[AWSResponse, dict[str, Any]] | None:
    """S3 answers 403, not 404, for a missing key when the caller may not list the bucket
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions");
    that check carries no s3:prefix."""
    bucket, key = params["Bucket"], params["Key"]
    if _object_exists(bucket, key):
        return None
    listing = Authorization("s3:ListBucket", bucket_arn(bucket), resource_policy=bucket_arn(bucket))
    decision = enforcement.decide(principal, listing)
    if decision.allowed:
        return None
    if operation == "HeadObject":
        # A HEAD response has no body: botocore reports the status code as the error code.
        return _response(HTTP_FORBIDDEN, {"Error": {"Code": "403", "Message": "Forbidden"}})
    return _refusal("s3", operation, denial_message(decision))


def _object_exists(bucket: str, key: str) -> bool:
    try:
        return moto_access.s3_backend().get_object(bucket, key) is not None
    except Exception:  # moto raises its own missing-bucket and missing-key errors
        return False


def _refusal(service: str, operation: str, message: str) -> tuple[AWSResponse, dict[str, Any]]:
    code = ACCESS_DENIED_CODES.get(service, DEFAULT_ACCESS_DENIED_CODE)
    return _response(HTTP_FORBIDDEN, {"Error": {"Code": code, "Message": message}})


def _response(status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    request_id = str(uuid.uuid4())
    metadata = {"RequestId": request_id, "HTTPStatusCode": status, "HTTPHeaders": {"x-amzn-requestid": request_id}, "RetryAttempts": 0}
    parsed = {**parsed, "ResponseMetadata": metadata}
    return AWSResponse(url="", status_code=status, headers={}, raw=None), parsed


HOOKS = (("before-parameter-build", _remember_params), ("before-call", _check_call))


def _register_hooks() -> None:
    """Every botocore session created from now on gets the hooks, as moto's stubber does."""
    for spec in HOOKS:
        if spec not in botocore_handlers.BUILTIN_HANDLERS:
            botocore_handlers.BUILTIN_HANDLERS.append(spec)


def _register_on_default_session() -> None:
    """boto3's default session may exist already (a handler module created a client at import)."""
    session = boto3.DEFAULT_SESSION
    if session is None:
        return
    for event, handler in HOOKS:
        session._session.register(event, handler, unique_id=f"mlops-local-iam-{event}")


_register_hooks()


def authorize_listing(principal: str, bucket: str, prefix: str) -> None:
    authorize(principal, _s3_requirements("ListObjectsV2", {"Bucket": bucket, "Prefix": prefix}))


def authorize_object_read(principal: str, bucket: str, key: str) -> None:
    authorize(principal, _s3_requirements("GetObject", {"Bucket": bucket, "Key": key}))


def authorize_object_write(principal: str, bucket: str, key: str, kms_key_id: str | None = None) -> None:
    params = {"Bucket": bucket, "Key": key, **({"SSEKMSKeyId": kms_key_id} if kms_key_id else {})}
    authorize(principal, _s3_requirements("PutObject", params))


def _s3_requirements(operation: str, params: dict[str, Any]) -> list[Authorization]:
    if _active is None:
        return []
    return authorizations_for("s3", operation, params) + _key_uses("s3", operation, params)
