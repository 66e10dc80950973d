"""`mlops local up` / `mlops local down`: the local cloud as a server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlops.cli import EXIT_FAILED, EXIT_OK, UsageError

STATE_FOLDER = Path(".mlops")
STATE_FILE = STATE_FOLDER / "local-server.json"
PID_FILE = STATE_FOLDER / "local-server.pid"
LOG_FILE = STATE_FOLDER / "local-server.log"
STARTUP_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 15


def local_up(config_path: Path, port: int) -> int:
    if not config_path.is_file():
        raise UsageError(f"mlops local up: no pipeline config at {config_path} (run `mlops init` first)")
    if PID_FILE.exists() and _alive(int(PID_FILE.read_text())):
        raise UsageError(f"mlops local up: a local server is already running (pid {PID_FILE.read_text().strip()})")
    STATE_FOLDER.mkdir(exist_ok=True)
    STATE_FILE.unlink(missing_ok=True)
    with LOG_FILE.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlops.local.server", "--config", str(config_path.resolve()),
             "--port", str(port), "--state-file", str(STATE_FILE.resolve())],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    PID_FILE.write_text(str(process.pid))
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not STATE_FILE.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            PID_FILE.unlink(missing_ok=True)
            print(f"mlops local up: the local server did not start; see {LOG_FILE}", file=sys.stderr)
            return EXIT_FAILED
        time.sleep(0.2)
    state = json.loads(STATE_FILE.read_text())
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
        f"The credentials are also in {STATE_FILE} (readable by you only), where the --local commands read them.",
    ]


def local_down() -> int:
    if not PID_FILE.exists():
        print("No local server is running.")
        return EXIT_OK
    pid = int(PID_FILE.read_text())
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    PID_FILE.unlink(missing_ok=True)
    STATE_FILE.unlink(missing_ok=True)
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
