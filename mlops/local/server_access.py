"""Who the local server answers: the AWS CLI and SDKs of the person who started it, and nothing
else on the machine or in their browser.

The server listens on 127.0.0.1, which every web page open in the user's browser can reach too.
A request is refused with 403, in the AWS error format its protocol expects, when

* it carries an ``Origin`` header: browsers send one with every cross-origin request that can
  change anything (and with CORS preflights); the AWS CLI and SDKs never do;
* its ``Host`` is not the server's own address: a DNS-rebinding page reaches 127.0.0.1 under a
  host name of its own;
* it is not signed with SigV4 (``Authorization`` header or presigned query) by the credentials
  generated for this start of the server. A page can send simple GETs without an ``Origin``
  header, but it cannot sign them.

Signatures are computed again with botocore's own signer and compared. No CORS header is ever
sent: moto's server would allow every origin.
"""

from __future__ import annotations

import hmac
import io
import json
import re
import secrets
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from aws_lambda_powertools import Logger
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.core.request import environ_key_for_header

logger = Logger(service="mlops-local-server")

# Shaped like AWS's own long-term key ids, so every tool that accepts AWS credentials accepts these.
ACCESS_KEY_ID_PREFIX = "AKIA"
ACCESS_KEY_ID_ALPHABET = string.ascii_uppercase + "234567"
ACCESS_KEY_ID_RANDOM_CHARS = 16  # 80 bits
SECRET_ACCESS_KEY_BYTES = 30  # 40 URL-safe characters, the length of an AWS secret access key

SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# SigV4's own limit on how long a presigned URL stays valid.
MAX_PRESIGNED_EXPIRY_SECONDS = 7 * 24 * 3600
S3_SIGNING_NAME = "s3"
CORS_HEADER_PREFIX = "access-control-"

_AUTHORIZATION_FIELDS = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed_headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]+)\s*$"
)
_ABSOLUTE_FORM_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*")


@dataclass(frozen=True)
class LocalCredentials:
    """The key pair one start of the local server accepts, and nothing else."""

    access_key_id: str
    secret_access_key: str

    @classmethod
    def generate(cls) -> LocalCredentials:
        random_part = "".join(secrets.choice(ACCESS_KEY_ID_ALPHABET) for _ in range(ACCESS_KEY_ID_RANDOM_CHARS))
        return cls(
            access_key_id=ACCESS_KEY_ID_PREFIX + random_part,
            secret_access_key=secrets.token_urlsafe(SECRET_ACCESS_KEY_BYTES),
        )


class RequestRefused(Exception):
    """A request the local server does not answer, with the AWS error code it answers instead."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _Signature:
    credential_scope: list[str]  # access key id, date, region, service, "aws4_request"
    signed_headers: list[str]
    signature: str
    amz_date: str
    presigned: bool
    expires_seconds: int | None = None

    @property
    def access_key_id(self) -> str:
        return self.credential_scope[0]


def own_hosts(port: int) -> frozenset[str]:
    """The Host header values of requests made to the server's own address."""
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})


def check_request(
    environ: dict[str, Any],
    *,
    allowed_hosts: frozenset[str],
    credentials: LocalCredentials,
    now: datetime,
) -> None:
    """Raise RequestRefused unless the request comes from the user's own AWS tools."""
    if "HTTP_ORIGIN" in environ:
        raise RequestRefused(
            "AccessDenied",
            "The local server does not answer web pages: the request carries an Origin header.",
        )
    if environ.get("HTTP_HOST", "").lower() not in allowed_hosts:
        raise RequestRefused(
            "AccessDenied",
            "The local server answers only requests addressed to its own address "
            f"({' or '.join(sorted(allowed_hosts))}).",
        )
    signature = _signature_of(environ)
    if signature.access_key_id != credentials.access_key_id:
        raise RequestRefused(
            "InvalidAccessKeyId",
            "The access key id is not the one this local server accepts; use the credentials "
            "`mlops local up` printed.",
        )
    if signature.presigned:
        _check_not_expired(signature, now)
    expected = _expected_signature(environ, signature, credentials)
    if not hmac.compare_digest(expected, signature.signature):
        raise RequestRefused(
            "SignatureDoesNotMatch",
            "The request signature does not match the one computed with the local server's "
            "credentials; use the secret access key `mlops local up` printed.",
        )


def _signature_of(environ: dict[str, Any]) -> _Signature:
    authorization = environ.get("HTTP_AUTHORIZATION")
    query = _query_parameters(environ.get("QUERY_STRING", ""))
    if authorization:
        if not authorization.startswith(SIGV4_ALGORITHM):
            raise _unsupported_signature()
        fields = _AUTHORIZATION_FIELDS.match(authorization)
        if fields is None:
            raise RequestRefused("IncompleteSignature", f"The {SIGV4_ALGORITHM} Authorization header is incomplete.")
        amz_date = environ.get("HTTP_X_AMZ_DATE", "")
        return _Signature(
            credential_scope=_credential_scope(fields["credential"]),
            signed_headers=fields["signed_headers"].split(";"),
            signature=fields["signature"],
            amz_date=amz_date,
            presigned=False,
        )
    if "X-Amz-Credential" in query:
        if query.get("X-Amz-Algorithm") != SIGV4_ALGORITHM or "X-Amz-Signature" not in query:
            raise RequestRefused("AuthorizationQueryParametersError", f"The local server accepts only {SIGV4_ALGORITHM} presigned URLs.")
        try:
            expires_seconds = int(query.get("X-Amz-Expires", ""))
        except ValueError:
            raise RequestRefused("AuthorizationQueryParametersError", "X-Amz-Expires must be a number of seconds.") from None
        return _Signature(
            credential_scope=_credential_scope(query["X-Amz-Credential"]),
            signed_headers=query.get("X-Amz-SignedHeaders", "").split(";"),
            signature=query["X-Amz-Signature"],
            amz_date=query.get("X-Amz-Date", ""),
            presigned=True,
            expires_seconds=expires_seconds,
        )
    if "AWSAccessKeyId" in query:
        raise _unsupported_signature()
    raise RequestRefused(
        "MissingAuthenticationToken",
        "The local server answers only requests signed with the credentials `mlops local up` printed.",
    )


def _unsupported_signature() -> RequestRefused:
    # boto3 and the AWS CLI v1 presign S3 URLs with signature version 2 unless told otherwise;
    # S3 itself accepts only SigV4 for buckets created after June 2020.
    return RequestRefused(
        "InvalidRequest",
        f"The authorization mechanism you have provided is not supported. Please use {SIGV4_ALGORITHM} "
        '(boto3: botocore.config.Config(signature_version="s3v4"); AWS CLI v1: '
        "`aws configure set default.s3.signature_version s3v4`).",
    )


def _credential_scope(credential: str) -> list[str]:
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise RequestRefused("IncompleteSignature", "The credential must be <key id>/<date>/<region>/<service>/aws4_request.")
    return scope


def _query_parameters(query_string: str) -> dict[str, str]:
    parameters = {}
    for pair in query_string.split("&"):
        name, _, value = pair.partition("=")
        parameters[unquote(name)] = unquote(value)
    return parameters


def _check_not_expired(signature: _Signature, now: datetime) -> None:
    signed_at = _parse_amz_date(signature.amz_date)
    expires_seconds = signature.expires_seconds or 0
    if not 0 < expires_seconds <= MAX_PRESIGNED_EXPIRY_SECONDS:
        raise RequestRefused("AuthorizationQueryParametersError", "X-Amz-Expires must be between 1 second and 7 days.")
    if now > signed_at + timedelta(seconds=expires_seconds):
        raise RequestRefused("AccessDenied", "Request has expired.")


def _parse_amz_date(amz_date: str) -> datetime:
    try:
        return datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise RequestRefused("IncompleteSignature", "The request must carry its signing time as X-Amz-Date.") from None


def _expected_signature(environ: dict[str, Any], signature: _Signature, credentials: LocalCredentials) -> str:
    _parse_amz_date(signature.amz_date)
    if signature.amz_date[:8] != signature.credential_scope[1]:
        raise RequestRefused("SignatureDoesNotMatch", "The credential's date is not the date of X-Amz-Date.")
    _, _, region, service, _ = signature.credential_scope
    request = AWSRequest(
        method=environ["REQUEST_METHOD"],
        url=_signed_url(environ, signature),
        headers=_signed_header_values(environ, signature.signed_headers),
        data=_body(environ, signature),
    )
    request.context["timestamp"] = signature.amz_date
    signer_class = _signer_class(service, presigned=signature.presigned)
    signer = signer_class(Credentials(credentials.access_key_id, credentials.secret_access_key), service, region)
    canonical_request = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical_request), request)


def _signer_class(service: str, *, presigned: bool) -> type[SigV4Auth]:
    # S3 signs its paths as they are sent and its payload hash as a header; other services
    # normalize the path and hash the body.
    if service == S3_SIGNING_NAME:
        return S3SigV4QueryAuth if presigned else S3SigV4Auth
    return SigV4QueryAuth if presigned else SigV4Auth


def _signed_url(environ: dict[str, Any], signature: _Signature) -> str:
    # The path as sent: PATH_INFO is already percent-decoded, and the signature covers the
    # encoded form.
    path = _ABSOLUTE_FORM_PREFIX.sub("", environ.get("REQUEST_URI", "")).partition("?")[0]
    query = environ.get("QUERY_STRING", "")
    if signature.presigned:
        query = "&".join(pair for pair in query.split("&") if pair.partition("=")[0] != "X-Amz-Signature")
    return f"http://{environ['HTTP_HOST']}{path}" + (f"?{query}" if query else "")


def _signed_header_values(environ: dict[str, Any], names: Iterable[str]) -> dict[str, str]:
    values = {}
    for name in names:
        key = environ_key_for_header(name)
        if key not in environ:
            raise RequestRefused("SignatureDoesNotMatch", f"The signed header {name} is missing from the request.")
        values[name] = environ[key]
    return values


def _body(environ: dict[str, Any], signature: _Signature) -> bytes:
    # S3 requests carry their payload's hash as a signed header, and presigned URLs sign no
    # payload, so only the other services' bodies are read (and put back for moto).
    if signature.presigned or "x-amz-content-sha256" in signature.signed_headers:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        body = environ["wsgi.input"].read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = environ["wsgi.input"].read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


class _ErrorFormat(Enum):
    S3_XML = "s3"
    QUERY_XML = "query"
    JSON = "json"


def _error_format(environ: dict[str, Any]) -> _ErrorFormat:
    if "HTTP_X_AMZ_TARGET" in environ:
        return _ErrorFormat.JSON
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return _ErrorFormat.QUERY_XML
    # The remaining protocols are S3's XML and the REST services' JSON (sagemaker-runtime,
    # lambda), told apart by the service the request was signed for.
    fields = _AUTHORIZATION_FIELDS.match(environ.get("HTTP_AUTHORIZATION", ""))
    scope = fields["credential"].split("/") if fields else []
    if len(scope) == 5 and scope[3] != S3_SIGNING_NAME:
        return _ErrorFormat.JSON
    return _ErrorFormat.S3_XML


def error_response(environ: dict[str, Any], refusal: RequestRefused) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of a 403 answer that the AWS CLI and SDKs report as `refusal.code`."""
    request_id = secrets.token_hex(16)
    error_format = _error_format(environ)
    if error_format is _ErrorFormat.JSON:
        body = json.dumps({"__type": refusal.code, "message": refusal.message}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-ErrorType", refusal.code),
            ("x-amzn-RequestId", request_id),
        ]
    elif error_format is _ErrorFormat.QUERY_XML:
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{escape(refusal.code)}</Code><Message>{escape(refusal.message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(refusal.code)}</Code><Message>{escape(refusal.message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    if environ.get("REQUEST_METHOD") == "HEAD":
        body = b""
    return [*headers, ("Content-Length", str(len(body)))], body


class GuardedApplication:
    """A WSGI application that answers only requests `check_request` lets through."""

    def __init__(
        self,
        application: Callable[..., Any],
        *,
        allowed_hosts: frozenset[str],
        credentials: LocalCredentials,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._application = application
        self._allowed_hosts = allowed_hosts
        self._credentials = credentials
        self._clock = clock

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            check_request(environ, allowed_hosts=self._allowed_hosts, credentials=self._credentials, now=self._clock())
        except RequestRefused as refusal:
            logger.warning(
                "Request refused",
                error_code=refusal.code,
                method=environ.get("REQUEST_METHOD"),
                path=environ.get("PATH_INFO"),
                host=environ.get("HTTP_HOST"),
                origin=environ.get("HTTP_ORIGIN"),
            )
            headers, body = error_response(environ, refusal)
            start_response("403 Forbidden", headers)
            return [body]
        return self._application(environ, _without_cors_headers(start_response))


def _without_cors_headers(start_response: Callable[..., Any]) -> Callable[..., Any]:
    def start_response_without_cors(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        kept = [(name, value) for name, value in headers if not name.lower().startswith(CORS_HEADER_PREFIX)]
        return start_response(status, kept, exc_info)

    return start_response_without_cors
