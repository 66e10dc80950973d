"""`mlops local up` / `mlops local down`: the local cloud as a server on 127.0.0.1."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from mlops.cli_support import (
    DEFAULT_CONFIG,
    DEFAULT_LOCAL_PORT,
    DEFAULT_RUNS_FOLDER,
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    local_server_log_file,
    local_server_pid_file,
    local_server_state_file,
    local_server_state_folder,
)

STARTUP_TIMEOUT_SECONDS = 300
STOP_TIMEOUT_SECONDS = 15
# After SIGKILL the kernel ends the process at once; this bounds the wait for it to be gone.
KILL_WAIT_SECONDS = 5
STARTUP_POLL_SECONDS = 0.2
LOOPBACK = "127.0.0.1"


def register(local_commands: argparse._SubParsersAction) -> None:
    up = local_commands.add_parser("up", help="serve the local cloud on 127.0.0.1 for the AWS CLI and boto3")
    up.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help=f"the pipeline config (default {DEFAULT_CONFIG})")
    up.add_argument("--port", type=int, default=DEFAULT_LOCAL_PORT,
                    help=f"the port on 127.0.0.1 to listen on (default {DEFAULT_LOCAL_PORT})")
    up.add_argument("--keep", type=Path, default=None, metavar="FOLDER",
                    help="where to keep reports, quarantine copies, logs and outcomes while it runs "
                         f"(default {DEFAULT_RUNS_FOLDER}/<UTC time>-local-server)")
    up.set_defaults(handler=lambda arguments: local_up(arguments.config, arguments.port, arguments.keep))
    down = local_commands.add_parser("down", help="stop the local server (from any directory)")
    down.set_defaults(handler=lambda arguments: local_down())


def local_up(config_path: Path, port: int, keep: Path | None = None) -> int:
    if not config_path.is_file():
        raise UsageError(f"mlops local up: no pipeline config at {config_path} (run `mlops init` first)")
    pid_file, state_file, log_file = local_server_pid_file(), local_server_state_file(), local_server_log_file()
    running = _recorded_pid(pid_file)
    if running is not None and _alive(running):
        raise UsageError(f"mlops local up: a local server is already running (pid {running}); stop it with `mlops local down`")
    problem = port_problem(port)
    if problem:
        raise UsageError(f"mlops local up: {problem}; pass --port with a free port, or stop what listens there")
    results = (keep or DEFAULT_RUNS_FOLDER / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-local-server").resolve()
    local_server_state_folder().mkdir(parents=True, exist_ok=True)
    state_file.unlink(missing_ok=True)
    with log_file.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlops.local.server", "--config", str(config_path.resolve()),
             "--port", str(port), "--state-file", str(state_file), "--results", str(results)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    pid_file.write_text(str(process.pid))
    print(f"Starting the local cloud from {config_path} (synth + deploy into moto; log: {log_file})...", file=sys.stderr)
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            _stop_process(process)
            pid_file.unlink(missing_ok=True)
            print(f"mlops local up: the local server did not start{_last_line(log_file)}; see {log_file}", file=sys.stderr)
            return EXIT_FAILED
        time.sleep(STARTUP_POLL_SECONDS)
    state = json.loads(state_file.read_text())
    print(f"Local cloud listening on {state['endpoint_url']} (pid {process.pid}).")
    for line in connection_instructions(state):
        print(line)
    print(f"Reports, quarantine copies, function and job logs and outcomes are kept in {results} as they come.")
    print("Stop it with `mlops local down` (from any directory).")
    return EXIT_OK


def port_problem(port: int) -> str | None:
    """Why the server could not listen on the port, found in a moment (None: it can)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As werkzeug's server binds: an address in TIME_WAIT is free to reuse.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError as error:
            return f"cannot listen on {LOOPBACK}:{port} ({error.strerror or error})"
    return None


def _stop_process(process: subprocess.Popen) -> None:
    """Stop a server that did not start, and its children, leaving nothing running."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _last_line(log_file: Path) -> str:
    try:
        lines = [line for line in log_file.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return f" ({lines[-1].strip()})" if lines else ""


def _recorded_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


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
        f"The credentials are also in {local_server_state_file()} (readable by you only), where the --local commands read them.",
    ]


def local_down() -> int:
    pid_file, state_file = local_server_pid_file(), local_server_state_file()
    pid = _recorded_pid(pid_file)
    if pid is None:
        print(f"No local server is running (no pid file in {local_server_state_folder()}).")
        return EXIT_OK
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        if not _gone_within(pid, STOP_TIMEOUT_SECONDS):
            os.kill(pid, signal.SIGKILL)
            # The port is free only once the process is gone; `down` returns after that.
            _gone_within(pid, KILL_WAIT_SECONDS)
    pid_file.unlink(missing_ok=True)
    state_file.unlink(missing_ok=True)
    print(f"Stopped the local server (pid {pid}).")
    return EXIT_OK


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(pid)


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
