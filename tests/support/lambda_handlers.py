"""What a handler test needs to call a handler as Lambda does: a context, and the environment
and moto the handler's clients run against."""

from __future__ import annotations

from dataclasses import dataclass

INVOCATION_TIME_LEFT_MS = 60_000


def handler_under_moto(monkeypatch, handler_module, service_name: str, region: str):
    """Credentials, region and Powertools settings a handler test needs, then moto.

    Powertools reads its namespace when the handler module is imported, which may precede the
    test, so the handler's Metrics gets it directly too. Use as `with handler_under_moto(...)`."""
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "test",
        "POWERTOOLS_SERVICE_NAME": service_name,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(handler_module.metrics, "namespace", "test")
    return mock_aws()


@dataclass
class LambdaContextStub:
    """The fields of a Lambda context that the handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int:
        # Powertools idempotency reads it to expire an in-progress record with the invocation.
        return INVOCATION_TIME_LEFT_MS


def lambda_context(function_name: str, memory_mb: int, request_number: int, region: str = "us-east-1") -> LambdaContextStub:
    return LambdaContextStub(
        function_name=function_name,
        memory_limit_in_mb=memory_mb,
        invoked_function_arn=f"arn:aws:lambda:{region}:123456789012:function:{function_name}",
        aws_request_id=f"00000000-0000-0000-0000-{request_number:012d}",
    )
