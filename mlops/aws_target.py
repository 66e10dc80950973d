"""Where an operating command reaches its AWS.

Default: the caller's own boto3 session (profile, environment, instance role) and the outputs of
the deployed stack, read with CloudFormation. `--local`: the local server started by
`mlops local up`, with its endpoint URL, region, stack outputs and the credentials it generated
at its start, all from its state file. Either way a command gets one AwsTarget and builds every
client from it.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, ProfileNotFound

from functions.common.config import ConfigError, PipelineConfig, load_config
from functions.common.version_in_service import serving_endpoint
from infra.outputs import (
    OUTPUT_DATA_BUCKET,
    OUTPUT_ENDPOINT,
    OUTPUT_MODEL_PACKAGE_GROUP,
    OUTPUT_MODEL_ROLE,
    OUTPUT_TOPIC,
    stack_name,
)
from mlops.cli_support import DEFAULT_CONFIG, UsageError, local_server_state_file

LOCAL_CONNECT_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class AwsTarget:
    session: Any
    outputs: dict[str, str]
    config: PipelineConfig
    description: str
    endpoint_url: str | None = None

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url)

    @property
    def model_package_group(self) -> str:
        return self.outputs.get(OUTPUT_MODEL_PACKAGE_GROUP) or self.config.model_package_group

    @property
    def endpoint_name(self) -> str:
        return self.outputs.get(OUTPUT_ENDPOINT) or self.config.deployment.endpoint_name

    @property
    def serving_endpoint(self) -> str | None:
        """The endpoint versions are deployed to; None when the deployment has none
        (deployment.mode batch_only, whose stack exports no endpoint)."""
        return serving_endpoint(self.config.deployment.mode, self.endpoint_name)

    def require_endpoint(self, command: str) -> str:
        endpoint = self.serving_endpoint
        if endpoint is None:
            raise UsageError(
                f"{command}: deployment.mode is batch_only, so there is no endpoint; files uploaded under batch/ "
                "are scored by the newest approved version (`mlops versions` marks it)"
            )
        return endpoint

    @property
    def data_bucket(self) -> str | None:
        return self.outputs.get(OUTPUT_DATA_BUCKET)

    @property
    def model_role_arn(self) -> str | None:
        return self.outputs.get(OUTPUT_MODEL_ROLE)

    @property
    def topic_arn(self) -> str | None:
        return self.outputs.get(OUTPUT_TOPIC)


# CloudFormation's answer to DescribeStacks for a stack name that does not exist
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html):
# the name is always well formed here, so this code means the stack is not deployed.
STACK_NOT_FOUND_CODE = "ValidationError"
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
EXPIRED_OR_INVALID_CREDENTIAL_CODES = frozenset({
    "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
    "SignatureDoesNotMatch", "RequestExpired",
})


def resolve_target(
    command: str, config_path: Path | None, local: bool, *, profile: str | None = None, region: str | None = None
) -> AwsTarget:
    """The AWS `command` works on; a UsageError naming what to do when it cannot be reached."""
    if local:
        if profile or region:
            raise UsageError(f"{command}: --profile and --region choose an AWS account; --local uses the local server")
        return local_server_target(command, config_path)
    config = _load(command, config_path or DEFAULT_CONFIG)
    return deployed_stack_target(command, config, profile=profile, region=region)


def deployed_stack_target(
    command: str, config: PipelineConfig, *, profile: str | None = None, region: str | None = None
) -> AwsTarget:
    name = stack_name(config)
    session = default_session(command, profile=profile, region=region)
    if session.region_name is None:
        raise UsageError(
            f"{command}: no AWS region is set; pass --region REGION, set AWS_REGION, "
            "or give your profile a region (`aws configure`)"
        )
    try:
        outputs = read_stack_outputs(session, name)
    except ClientError as error:
        raise UsageError(f"{command}: {_stack_error(error, name, session.region_name)}") from error
    except NoCredentialsError as error:
        raise UsageError(
            f"{command}: no AWS credentials found; pass --profile NAME, set AWS_PROFILE, "
            "or run `aws configure` (or use --local with a server started by `mlops local up`)"
        ) from error
    except NoRegionError as error:
        raise UsageError(f"{command}: no AWS region is set; pass --region REGION") from error
    except BotoCoreError as error:
        raise UsageError(f"{command}: cannot reach CloudFormation in {session.region_name} ({_one_line(error)})") from error
    return AwsTarget(session=session, outputs=outputs, config=config, description=f"stack {name} in {session.region_name}")


def _stack_error(error: ClientError, name: str, region: str) -> str:
    code = error.response.get("Error", {}).get("Code", "")
    if code == STACK_NOT_FOUND_CODE:
        return (
            f"the stack {name} is not deployed in {region}; deploy it with `cdk deploy`, pass the region "
            "it is in with --region, or use --local with a server started by `mlops local up`"
        )
    if code in ACCESS_DENIED_CODES:
        return f"your credentials may not read the stack {name} in {region} ({code}); they need cloudformation:DescribeStacks"
    if code in EXPIRED_OR_INVALID_CREDENTIAL_CODES:
        return f"your AWS credentials were refused ({code}); refresh them (`aws sso login`, `aws configure`) or pass --profile"
    return f"cannot read the stack {name} in {region} ({_one_line(error)})"


def default_session(command: str = "mlops", *, profile: str | None = None, region: str | None = None) -> Any:
    """The caller's normal boto3 session, shared with every `boto3.client` call in this process;
    a new one when a profile or region is chosen."""
    try:
        if boto3.DEFAULT_SESSION is None or profile or region:
            boto3.setup_default_session(profile_name=profile, region_name=region)
    except ProfileNotFound as error:
        raise UsageError(
            f"{command}: the AWS profile {error.kwargs.get('profile')!r} is not in your AWS config "
            "(~/.aws/config); name one that is with --profile or AWS_PROFILE"
        ) from error
    return boto3.DEFAULT_SESSION


def read_stack_outputs(session: Any, name: str) -> dict[str, str]:
    [stack] = session.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def local_server_target(command: str, config_path: Path | None, state_file: Path | None = None) -> AwsTarget:
    state_file = state_file or local_server_state_file()
    try:
        state = json.loads(state_file.read_text())
        endpoint_url = state["endpoint_url"]
        region = state["region"]
        outputs = dict(state.get("outputs") or {})
        access_key_id = state["access_key_id"]
        secret_access_key = state["secret_access_key"]
    except FileNotFoundError:
        raise UsageError(f"{command}: no local server is running (start one with `mlops local up`)") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"{command}: unreadable local server state {state_file}; restart it with `mlops local up`") from error
    if not _answers(endpoint_url):
        raise UsageError(
            f"{command}: the local server at {endpoint_url} does not answer; "
            "restart it with `mlops local down` then `mlops local up`"
        )
    # The server's own config names the project it deployed, unless the caller chose one.
    config = _load(command, config_path or Path(state.get("config") or DEFAULT_CONFIG))
    session = boto3.Session(
        aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key, region_name=region
    )
    return AwsTarget(
        session=session,
        outputs=outputs,
        config=config,
        description=f"local server at {endpoint_url}",
        endpoint_url=endpoint_url,
    )


def _answers(endpoint_url: str) -> bool:
    # Checked up front: botocore would retry a refused connection several times before failing.
    address = urlsplit(endpoint_url)
    try:
        with socket.create_connection((address.hostname, address.port or 80), timeout=LOCAL_CONNECT_TIMEOUT_SECONDS):
            return True
    except OSError:
        return False


def _load(command: str, config_path: Path) -> PipelineConfig:
    if not config_path.is_file():
        raise UsageError(f"{command}: no pipeline config at {config_path} (pass --config or run `mlops init`)")
    try:
        return load_config(config_path)
    except ConfigError as error:
        raise UsageError(f"{command}: {error}") from error


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
