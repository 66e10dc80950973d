"""deployment.mode batch_only: no endpoint is created or updated; an approved version is recorded
as the model batch uploads are scored with, and the batch branch is the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from infra_synthesis import synthesize

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "pipeline.json"


@pytest.fixture(scope="module")
def batch_only(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch-only")
    document = json.loads(EXAMPLE_CONFIG.read_text())
    document.setdefault("deployment", {})["mode"] = "batch_only"
    config = folder / "pipeline.json"
    config.write_text(json.dumps(document))
    return synthesize(config, folder / "cdk.out")


def test_no_state_creates_or_updates_an_endpoint(batch_only):
    states = batch_only.definition()["States"]
    endpoint_calls = [
        name for name, state in states.items()
        if state.get("Resource", "").split(":")[-1] in {"createEndpoint", "updateEndpoint", "createEndpointConfig"}
    ]
    assert endpoint_calls == []
    assert "Start transform job" in states


def test_an_approved_version_becomes_the_batch_model(batch_only):
    states = batch_only.definition()["States"]
    (approved,) = [c for c in states["Approval status?"]["Choices"] if c.get("StringEquals") == "Approved"]
    assert approved["Next"] == "Release deployment lock (batch model)"
    assert states["Record batch model"]["Parameters"]["outcome"] == "deployed"
    assert states["Record batch model"]["Next"] == "Batch model"
