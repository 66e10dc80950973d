"""Read environment variables at invocation time, with a typed error when one is missing."""

from __future__ import annotations

import os

from functions.common.errors import MissingEnvironmentError


def require_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingEnvironmentError(name)
    return value
