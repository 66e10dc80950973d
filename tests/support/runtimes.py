"""The cloud's runtimes for tests: the SageMaker image's interpreter (built once from the runtime
manifest), or a skip that names the missing interpreter and how to get it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.local import runtime_env


def image_python() -> Path:
    try:
        return runtime_env.image_python()
    except runtime_env.RuntimeUnavailableError as error:
        pytest.skip(f"needs the SageMaker image's runtime: {error}")
