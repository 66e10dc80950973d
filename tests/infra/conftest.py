"""One synthesis of the pipeline app for every infra test (synthesis takes ~20 s)."""

from __future__ import annotations

from pathlib import Path

import pytest
from infra_synthesis import Synthesized, synthesize

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = REPOSITORY_ROOT / "pipeline.json"


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(EXAMPLE_CONFIG, tmp_path_factory.mktemp("cdk.out"))
