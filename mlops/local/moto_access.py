"""Direct access to moto's in-memory backends for the stand-ins, which run inside moto's own
request handling (in-process or in the local server) and must not call back over HTTP."""

from __future__ import annotations

from moto.core import DEFAULT_ACCOUNT_ID

LOCAL_ACCOUNT_ID = DEFAULT_ACCOUNT_ID
LOCAL_REGION = "us-east-1"


def s3_backend():
    from moto.s3.models import s3_backends

    return s3_backends[LOCAL_ACCOUNT_ID]["global"]


def sagemaker_backend():
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[LOCAL_ACCOUNT_ID][LOCAL_REGION]


def stepfunctions_backend():
    """The backend whose state machines moto's interpreter executes."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return stepfunctions_parser_backends[LOCAL_ACCOUNT_ID][LOCAL_REGION]


def lambda_backend():
    from moto.awslambda.models import lambda_backends

    return lambda_backends[LOCAL_ACCOUNT_ID][LOCAL_REGION]


def events_backend():
    from moto.events.models import events_backends

    return events_backends[LOCAL_ACCOUNT_ID][LOCAL_REGION]


def cloudwatch_backend():
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[LOCAL_ACCOUNT_ID][LOCAL_REGION]


def read_object(bucket: str, key: str) -> bytes:
    stored = s3_backend().get_object(bucket, key)
    if stored is None:
        raise FileNotFoundError(f"s3://{bucket}/{key}")
    return bytes(stored.value)


def write_object(bucket: str, key: str, body: bytes) -> None:
    s3_backend().put_object(bucket, key, body)


def list_keys(bucket: str, prefix: str) -> list[str]:
    stored = s3_backend().get_bucket(bucket)
    return sorted(key for key in stored.keys.keys() if key.startswith(prefix))
