"""The server of `mlops local up` answers only the user's own AWS tools: not web pages open in
their browser (cross-origin requests, DNS rebinding), not unsigned requests, not requests signed
with credentials other than the ones it generated at its start and `mlops local up` printed.

The server runs in-process on a free port in front of moto's backends, without the pipeline."""

from __future__ import annotations

import http.client
import itertools
import json
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore import UNSIGNED
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from moto import mock_aws
from werkzeug.test import EnvironBuilder

from mlops.aws_target import local_server_target
from mlops.commands.local_server import connection_instructions
from mlops.local.server import STATE_FILE_MODE, LocalServer, write_state_file
from mlops.local.server_access import AMZ_DATE_FORMAT, LocalCredentials, RequestRefused, check_request, own_hosts

REGION = "us-east-1"
DATA_BUCKET_PREFIX = "local-data-bucket"
_bucket_numbers = itertools.count()
UPLOAD_KEY = "incoming/upload.csv"
UPLOAD = b"a,b,target\n1,2,0\n"
WEB_PAGE_ORIGIN = "http://evil.example"
PRESIGNED_EXPIRY_SECONDS = 600


@dataclass(frozen=True)
class RunningServer:
    port: int
    endpoint_url: str
    credentials: LocalCredentials
    state_file: Path

    @property
    def state(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text())


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@pytest.fixture(scope="module")
def server(tmp_path_factory, breast_cancer_config) -> RunningServer:
    folder = tmp_path_factory.mktemp("local-server")
    config_path = folder / "pipeline.json"
    config_path.write_text(breast_cancer_config.to_json())
    credentials = LocalCredentials.generate()
    with mock_aws(), LocalServer(0, credentials) as local_server:
        state_file = folder / "local-server.json"
        write_state_file(state_file, local_server.state(config_path, outputs={}))
        yield RunningServer(local_server.port, local_server.endpoint_url, credentials, state_file)


@pytest.fixture
def bucket(server) -> str:
    """An empty bucket of the test's own in the server's local cloud."""
    name = f"{DATA_BUCKET_PREFIX}-{next(_bucket_numbers)}"
    s3_client(server).create_bucket(Bucket=name)
    return name


def s3_client(server: RunningServer, credentials: LocalCredentials | None = None, **config: Any) -> Any:
    return client(server, "s3", credentials, **config)


def client(server: RunningServer, service: str, credentials: LocalCredentials | None = None, **config: Any) -> Any:
    credentials = credentials or server.credentials
    return boto3.client(
        service,
        endpoint_url=server.endpoint_url,
        region_name=REGION,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        config=Config(retries={"max_attempts": 1}, **config),
    )


def stored_keys(server: RunningServer, bucket: str) -> list[str]:
    listing = s3_client(server).list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def send(server: RunningServer, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Response:
    """One HTTP request to the server's socket, with exactly these headers (Host included)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        return Response(answer.status, {name.lower(): value for name, value in answer.getheaders()}, answer.read())
    finally:
        connection.close()


def send_signed(
    server: RunningServer,
    method: str,
    path: str,
    *,
    host: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> Response:
    """A request signed with the server's own credentials (by botocore), as the AWS CLI signs it."""
    request = AWSRequest(method=method, url=f"http://{host or f'127.0.0.1:{server.port}'}{path}", headers=headers or {}, data=body)
    credentials = Credentials(server.credentials.access_key_id, server.credentials.secret_access_key)
    S3SigV4Auth(credentials, "s3", REGION).add_auth(request)
    return send(server, method, path, {"Host": urlsplit(request.url).netloc, **dict(request.headers)}, body)


def error_code(response: Response) -> str:
    match = re.search(rb"<Code>([^<]+)</Code>", response.body)
    assert match, response.body
    return match.group(1).decode()


def cors_headers(headers: dict[str, str]) -> list[str]:
    return [name for name in headers if name.startswith("access-control-")]


def test_boto3_with_the_printed_credentials_and_endpoint_url_puts_and_gets_an_object(server, bucket):
    # Given the lines `mlops local up` prints for this server
    printed = "\n".join(connection_instructions(server.state))
    exported = re.search(r"export AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+) AWS_DEFAULT_REGION=(\S+)", printed)
    endpoint_url = re.search(r"--endpoint-url (\S+)", printed)
    assert exported and endpoint_url, printed
    access_key_id, secret_access_key, region = exported.groups()

    # When boto3 uses exactly those
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint_url.group(1),
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
    )
    s3.put_object(Bucket=bucket, Key=UPLOAD_KEY, Body=UPLOAD)

    # Then the object is stored and read back, with the credentials made for this start
    assert s3.get_object(Bucket=bucket, Key=UPLOAD_KEY)["Body"].read() == UPLOAD
    assert (access_key_id, secret_access_key) == (server.credentials.access_key_id, server.credentials.secret_access_key)
    assert endpoint_url.group(1) == f"http://127.0.0.1:{server.port}"


def test_the_state_file_holding_the_secret_is_readable_by_its_owner_only(server):
    assert stat.S_IMODE(server.state_file.stat().st_mode) == STATE_FILE_MODE == 0o600
    assert server.state["secret_access_key"] == server.credentials.secret_access_key


def test_a_cross_origin_put_into_incoming_is_refused_and_nothing_is_stored(server, bucket):
    # Even signed with the right credentials: a web page must not reach the server at all
    response = send_signed(server, "PUT", f"/{bucket}/{UPLOAD_KEY}", headers={"Origin": WEB_PAGE_ORIGIN}, body=UPLOAD)

    assert response.status == 403
    assert error_code(response) == "AccessDenied"
    assert cors_headers(response.headers) == []
    assert stored_keys(server, bucket) == []


@pytest.mark.parametrize(
    ("origin", "signed"),
    [(WEB_PAGE_ORIGIN, False), (WEB_PAGE_ORIGIN, True), (None, False)],
    ids=["from-a-web-page", "from-a-web-page-signed", "unsigned"],
)
def test_a_moto_api_reset_from_anything_but_the_users_tools_is_refused_and_the_state_survives(server, bucket, origin, signed):
    # Given an upload in the local cloud
    s3_client(server).put_object(Bucket=bucket, Key=UPLOAD_KEY, Body=UPLOAD)
    headers = {"Origin": origin} if origin else {}

    # When a page posts to moto's reset (a simple request: the browser sends it without a preflight)
    if signed:
        response = send_signed(server, "POST", "/moto-api/reset", headers=headers)
    else:
        response = send(server, "POST", "/moto-api/reset", {"Host": f"127.0.0.1:{server.port}", **headers})

    # Then it is refused and nothing is reset
    assert response.status == 403
    assert cors_headers(response.headers) == []
    assert stored_keys(server, bucket) == [UPLOAD_KEY]


def test_answers_to_the_users_tools_carry_no_cors_headers(server, bucket):
    # moto's own server would allow every origin on every answer
    response = send_signed(server, "GET", f"/{bucket}?list-type=2")

    assert response.status == 200
    assert cors_headers(response.headers) == []


@pytest.mark.parametrize(
    "host_for_port",
    [
        lambda port: "evil.example",
        lambda port: f"evil.example:{port}",
        lambda port: f"localhost.evil.example:{port}",
        lambda port: f"127.0.0.1:{port + 1}",
    ],
    ids=["rebound-name", "rebound-name-and-port", "name-starting-like-localhost", "another-port"],
)
def test_a_request_for_a_foreign_host_is_refused(server, bucket, host_for_port):
    # A DNS-rebinding page reaches 127.0.0.1 under its own name; signed correctly for that name
    foreign_host = host_for_port(server.port)

    response = send_signed(server, "PUT", f"/{bucket}/{UPLOAD_KEY}", host=foreign_host, body=UPLOAD)

    assert response.status == 403
    assert error_code(response) == "AccessDenied"
    assert stored_keys(server, bucket) == []


def test_a_request_for_localhost_is_answered(server, bucket):
    response = send_signed(server, "GET", f"/{bucket}?list-type=2", host=f"localhost:{server.port}")

    assert response.status == 200


@pytest.mark.parametrize(
    ("other_credentials", "expected_code"),
    [
        (lambda own: LocalCredentials("local", "local"), "InvalidAccessKeyId"),
        (lambda own: LocalCredentials.generate(), "InvalidAccessKeyId"),
        (lambda own: LocalCredentials(own.access_key_id, LocalCredentials.generate().secret_access_key), "SignatureDoesNotMatch"),
    ],
    ids=["the-old-dummy-credentials", "another-key-pair", "own-key-id-another-secret"],
)
def test_a_request_signed_with_other_credentials_is_refused(server, bucket, other_credentials, expected_code):
    credentials = other_credentials(server.credentials)

    with pytest.raises(ClientError) as refused:
        s3_client(server, credentials).put_object(Bucket=bucket, Key=UPLOAD_KEY, Body=UPLOAD)

    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused.value.response["Error"]["Code"] == expected_code
    assert stored_keys(server, bucket) == []


@pytest.mark.parametrize(
    ("service", "call"),
    [
        ("s3", lambda aws: aws.list_buckets()),
        ("sagemaker", lambda aws: aws.list_model_package_groups()),
        ("sns", lambda aws: aws.list_topics()),
        ("sagemaker-runtime", lambda aws: aws.invoke_endpoint(EndpointName="endpoint", ContentType="text/csv", Body=b"1,2")),
    ],
    ids=["rest-xml", "json", "query", "rest-json"],
)
def test_a_refusal_reaches_each_protocols_clients_as_an_aws_error(server, service, call):
    with pytest.raises(ClientError) as refused:
        call(client(server, service, LocalCredentials.generate()))

    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert "mlops local up" in refused.value.response["Error"]["Message"]


def test_an_unsigned_request_is_refused(server, bucket):
    # Given an upload; a page can request it without an Origin header (an <img> tag) but unsigned
    s3_client(server).put_object(Bucket=bucket, Key=UPLOAD_KEY, Body=UPLOAD)

    read = send(server, "GET", f"/{bucket}/{UPLOAD_KEY}", {"Host": f"127.0.0.1:{server.port}"})
    with pytest.raises(ClientError) as written:
        s3_client(server, signature_version=UNSIGNED).put_object(Bucket=bucket, Key="incoming/other.csv", Body=UPLOAD)

    assert read.status == 403
    assert error_code(read) == "MissingAuthenticationToken"
    assert UPLOAD not in read.body
    assert written.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert stored_keys(server, bucket) == [UPLOAD_KEY]


def test_a_presigned_url_is_answered_only_for_the_servers_own_credentials(server, bucket):
    s3_client(server).put_object(Bucket=bucket, Key=UPLOAD_KEY, Body=UPLOAD)
    params = {"Bucket": bucket, "Key": UPLOAD_KEY}
    own = s3_client(server, signature_version="s3v4").generate_presigned_url("get_object", Params=params)
    other = s3_client(server, LocalCredentials.generate(), signature_version="s3v4").generate_presigned_url(
        "get_object", Params=params
    )
    host = {"Host": f"127.0.0.1:{server.port}"}

    answered = send(server, "GET", _path_and_query(own), host)
    refused = send(server, "GET", _path_and_query(other), host)

    assert (answered.status, answered.body) == (200, UPLOAD)
    assert refused.status == 403
    assert error_code(refused) == "InvalidAccessKeyId"


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_a_presigned_url_is_refused_once_it_expires(server, bucket):
    url = s3_client(server, signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": UPLOAD_KEY}, ExpiresIn=PRESIGNED_EXPIRY_SECONDS
    )
    parts = urlsplit(url)
    environ = EnvironBuilder(path=parts.path, query_string=parts.query, base_url=f"http://{parts.netloc}").get_environ()
    signed_at = datetime.strptime(re.search(r"X-Amz-Date=(\w+)", parts.query).group(1), AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    check = {"allowed_hosts": own_hosts(server.port), "credentials": server.credentials}

    check_request(environ, **check, now=signed_at + timedelta(seconds=PRESIGNED_EXPIRY_SECONDS))
    with pytest.raises(RequestRefused) as refused:
        check_request(environ, **check, now=signed_at + timedelta(seconds=PRESIGNED_EXPIRY_SECONDS + 1))

    assert refused.value.code == "AccessDenied"


def test_the_local_commands_sign_with_the_credentials_of_the_state_file(server, bucket):
    s3_client(server).put_object(Bucket=bucket, Key=UPLOAD_KEY, Body=UPLOAD)

    target = local_server_target("mlops versions --local", None, state_file=server.state_file)

    assert target.client("s3").get_object(Bucket=bucket, Key=UPLOAD_KEY)["Body"].read() == UPLOAD
