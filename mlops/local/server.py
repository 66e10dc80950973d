"""The local cloud as a server on 127.0.0.1: the same moto backends, stand-ins and deployed
stack as `mlops local run`, reachable by the AWS CLI and boto3 with an endpoint URL.

Run by `mlops local up` as a background process; `mlops local down` stops it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from moto.server import ThreadedMotoServer

from mlops.local.cloud import LocalCloud

LOOPBACK = "127.0.0.1"


def serve(config_path: Path, port: int, state_file: Path) -> None:
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    with LocalCloud(config_path) as cloud:
        server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
        server.start()
        try:
            state_file.write_text(
                json.dumps(
                    {
                        "endpoint_url": f"http://{LOOPBACK}:{port}",
                        "region": "us-east-1",
                        "config": str(config_path),
                        "outputs": cloud.deployed.outputs if cloud.deployed else {},
                    },
                    indent=2,
                )
            )
            stopped.wait()
        finally:
            server.stop()
            state_file.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops-local-server")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-file", type=Path, required=True)
    arguments = parser.parse_args(argv)
    serve(arguments.config.resolve(), arguments.port, arguments.state_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
