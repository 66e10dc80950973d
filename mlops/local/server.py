"""The local cloud as a server on 127.0.0.1: the same moto backends, stand-ins and deployed
stack as `mlops local run`, reachable by the AWS CLI and boto3 with an endpoint URL and the
credentials generated for this start (see mlops/local/server_access.py for what it refuses).

Run by `mlops local up` as a background process; `mlops local down` stops it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from mlops.local.cloud import LocalCloud
from mlops.local.moto_access import LOCAL_REGION
from mlops.local.run_folder import RunFolder
from mlops.local.server_access import GuardedApplication, LocalCredentials, own_hosts

LOOPBACK = "127.0.0.1"
# The state file holds the secret access key: readable by its owner only.
STATE_FILE_MODE = 0o600
# The server's exit status when it cannot bind its port (`mlops local up` reports it as such).
PORT_UNAVAILABLE_EXIT = 3
# How often the server copies reports, quarantine copies and outcomes into its results folder.
RESULTS_SYNC_SECONDS = 2.0
STOPPED_WHILE_STARTING = "stopped while starting: nothing was left running"


class PortUnavailableError(Exception):
    """The port is taken (or not ours to bind)."""


class LocalServer:
    """moto's server application behind the access guard, on 127.0.0.1 in a background thread.

    Port 0 picks a free port; `port` is the one bound."""

    def __init__(self, port: int, credentials: LocalCredentials) -> None:
        self._requested_port = port
        self._credentials = credentials
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LocalServer:
        moto_application = DomainDispatcherApplication(create_backend_app)
        try:
            server = make_server(
                LOOPBACK, self._requested_port, moto_application, threaded=True, request_handler=MotoRequestHandler
            )
        except OSError as error:
            raise PortUnavailableError(
                f"cannot listen on {LOOPBACK}:{self._requested_port}: {error.strerror or error}"
            ) from error
        except SystemExit as error:
            # werkzeug prints its own message and exits when the address is in use.
            raise PortUnavailableError(f"cannot listen on {LOOPBACK}:{self._requested_port}: address already in use") from error
        # The guard needs the bound port to know the server's own Host header values.
        server.app = GuardedApplication(
            moto_application,
            allowed_hosts=own_hosts(server.server_address[1]),
            credentials=self._credentials,
        )
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="mlops-local-server", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()

    @property
    def port(self) -> int:
        assert self._server is not None, "the server is not started"
        return self._server.server_address[1]

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def state(self, config_path: Path, outputs: dict[str, str]) -> dict[str, Any]:
        """What `mlops local up` prints and the `--local` commands read."""
        return {
            "endpoint_url": self.endpoint_url,
            "region": LOCAL_REGION,
            "access_key_id": self._credentials.access_key_id,
            "secret_access_key": self._credentials.secret_access_key,
            "config": str(config_path),
            "outputs": outputs,
        }


def write_state_file(state_file: Path, state: dict[str, Any]) -> None:
    """Write the state readable by its owner only, and in one step: `mlops local up` takes the
    file's appearance as the sign that the server is ready, and reads it at once."""
    partial = state_file.with_name(f".{state_file.name}.partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, STATE_FILE_MODE)
    # The umask may have taken bits away, never added any; set the mode exactly.
    os.fchmod(descriptor, STATE_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        json.dump(state, stream, indent=2)
    os.replace(partial, state_file)


class StopRequested(Exception):
    """SIGTERM or SIGINT arrived: unwind whatever is starting or running."""


def _stop(*_: Any) -> None:
    raise StopRequested


def serve(config_path: Path, port: int, state_file: Path, results_folder: Path) -> None:
    # Raised in the main thread wherever it is, so a stop during the long start (synthesis,
    # deployment) ends the process as promptly as a stop while serving.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stopped = threading.Event()
    ready = False
    folder = RunFolder(results_folder)
    try:
        # The port first: taken, the server fails in a second instead of after the deployment.
        with LocalServer(port, LocalCredentials.generate()) as server, LocalCloud(
            config_path, log_folder=folder.function_log_folder, job_log_folder=folder.job_log_folder
        ) as cloud:
            try:
                state = server.state(config_path, cloud.deployed.outputs if cloud.deployed else {})
                write_state_file(state_file, {**state, "results_folder": str(folder.path)})
                ready = True
                while not stopped.wait(RESULTS_SYNC_SECONDS):
                    _keep_results(folder, cloud)
            finally:
                state_file.unlink(missing_ok=True)
                if ready:
                    _keep_results(folder, cloud)
    except StopRequested:
        if not ready:
            print(STOPPED_WHILE_STARTING, file=sys.stderr, flush=True)


def _keep_results(folder: RunFolder, cloud: LocalCloud) -> None:
    """Copy what the uploads came to into the results folder. It runs beside the requests the
    server answers, which may change moto's tables while they are read: a copy that meets one
    is left to the next round."""
    try:
        folder.sync(cloud)
        folder.sync_executions(cloud)
    except RuntimeError as error:  # "dictionary changed size during iteration"
        print(f"results not copied this round: {error}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops-local-server")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--results", type=Path, required=True)
    arguments = parser.parse_args(argv)
    try:
        serve(arguments.config.resolve(), arguments.port, arguments.state_file, arguments.results)
    except PortUnavailableError as error:
        # `mlops local up` shows this line from the server's log.
        print(str(error), file=sys.stderr, flush=True)
        return PORT_UNAVAILABLE_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
