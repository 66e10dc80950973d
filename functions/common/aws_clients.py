"""boto3 clients made once per execution environment instead of on every invocation.

Lambda reuses an execution environment across invocations, so a client made at the first call
that needs it serves every later one. Clients are made lazily, never at import, because the
environment (region, credentials) is only read at invocation. A client binds the region and
credentials it was made with, so they are part of the cache key: the local cloud and the tests
run every function in one process and may change them between invocations."""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

DEFAULT_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})

# What a boto3 client reads from the environment when it is made and keeps for its life.
CLIENT_BINDING_VARIABLES = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
)

_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()


def aws_client(service_name: str, config: Config = DEFAULT_CLIENT_CONFIG) -> Any:
    """The boto3 client of `service_name` with `config`, made at its first use in this environment."""
    key = (service_name, config, *(os.environ.get(name) for name in CLIENT_BINDING_VARIABLES))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = boto3.client(service_name, config=config)
        return client


def clear_clients() -> None:
    """Forget every client, as a new execution environment would (a new test, a new local cloud)."""
    with _clients_lock:
        _clients.clear()
