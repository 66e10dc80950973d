"""`mlops local up` / `mlops local down`: the local cloud as a server on 127.0.0.1."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlops.cli_support import (
    DEFAULT_CONFIG,
    DEFAULT_LOCAL_PORT,
    EXIT_FAILED,
    EXIT_OK,
    LOCAL_SERVER_LOG_FILE,
    LOCAL_SERVER_PID_FILE,
    LOCAL_SERVER_STATE_FILE,
    LOCAL_SERVER_STATE_FOLDER,
    UsageError,
)

STARTUP_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 15


def register(local_commands: argparse._SubParsersAction) -> None:
    up = local_commands.add_parser("up", help="serve the local cloud on 127.0.0.1 for the AWS CLI and boto3")
    up.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    up.add_argument("--port", type=int, default=DEFAULT_LOCAL_PORT)
    up.set_defaults(handler=lambda arguments: local_up(arguments.config, arguments.port))
    down = local_commands.add_parser("down", help="stop the local server")
    down.set_defaults(handler=lambda arguments: local_down())


def local_up(config_path: Path, port: int) -> int:
    if not config_path.is_file():
        raise UsageError(f"mlops local up: no pipeline config at {config_path} (run `mlops init` first)")
    if LOCAL_SERVER_PID_FILE.exists() and _alive(int(LOCAL_SERVER_PID_FILE.read_text())):
        raise UsageError(f"mlops local up: a local server is already running (pid {LOCAL_SERVER_PID_FILE.read_text().strip()})")
    LOCAL_SERVER_STATE_FOLDER.mkdir(exist_ok=True)
    LOCAL_SERVER_STATE_FILE.unlink(missing_ok=True)
    with LOCAL_SERVER_LOG_FILE.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlops.local.server", "--config", str(config_path.resolve()),
             "--port", str(port), "--state-file", str(LOCAL_SERVER_STATE_FILE.resolve())],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    LOCAL_SERVER_PID_FILE.write_text(str(process.pid))
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not LOCAL_SERVER_STATE_FILE.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            LOCAL_SERVER_PID_FILE.unlink(missing_ok=True)
            print(f"mlops local up: the local server did not start; see {LOCAL_SERVER_LOG_FILE}", file=sys.stderr)
            return EXIT_FAILED
        time.sleep(0.2)
    state = json.loads(LOCAL_SERVER_STATE_FILE.read_text())
    print(f"Local cloud listening on {state['endpoint_url']} (pid {process.pid}).")
    for line in connection_instructions(state):
        print(line)
    print("Stop it with `mlops local down`.")
    return EXIT_OK


def connection_instructions(state: dict) -> list[str]:
    """How the AWS CLI and boto3 reach the server: its endpoint URL and the credentials it
    generated at this start (it refuses any others, and unsigned requests)."""
    outputs = state["outputs"]
    url = state["endpoint_url"]
    bucket = outputs.get("DataBucketName")
    group = outputs.get("ModelPackageGroupName")
    return [
        f"  data bucket:  {bucket}",
        f"  endpoint:     {outputs.get('EndpointName')}",
        f"  model group:  {group}",
        "Use it as AWS with these credentials (new at every start; the server refuses any others) "
        "and the endpoint URL, for example:",
        f"  export AWS_ACCESS_KEY_ID={state['access_key_id']} "
        f"AWS_SECRET_ACCESS_KEY={state['secret_access_key']} AWS_DEFAULT_REGION={state['region']}",
        f"  aws --endpoint-url {url} s3 cp data.csv s3://{bucket}/incoming/data.csv",
        f"  aws --endpoint-url {url} sagemaker list-model-packages --model-package-group-name {group}",
        f'  boto3.client("s3", endpoint_url="{url}")    # in Python, after the export above',
        f"The credentials are also in {LOCAL_SERVER_STATE_FILE} (readable by you only), where the --local commands read them.",
    ]


def local_down() -> int:
    if not LOCAL_SERVER_PID_FILE.exists():
        print("No local server is running.")
        return EXIT_OK
    pid = int(LOCAL_SERVER_PID_FILE.read_text())
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    LOCAL_SERVER_PID_FILE.unlink(missing_ok=True)
    LOCAL_SERVER_STATE_FILE.unlink(missing_ok=True)
    print(f"Stopped the local server (pid {pid}).")
    return EXIT_OK


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A child that exited but was not reaped yet is not alive for our purposes.
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        return finished == 0
    except ChildProcessError:
        return True
