"""The deployed endpoint config carries the guardrail settings from the config: canary and
linear blue/green traffic shifting with automatic rollback on the errors and latency alarms,
and serverless endpoints without data capture or blue/green. Each config is synthesized once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from infra_synthesis import Synthesized, synthesize

from functions.common.config import load_config

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "pipeline.json"
# A canary or a linear step may be at most half of the fleet: two instances at least.
CANARY = {
    "initial_instance_count": 2,
    "strategy": "canary",
    "canary_percent": 10,
    "wait_interval_seconds": 420,
    "termination_wait_seconds": 900,
    "maximum_execution_timeout_seconds": 5400,
}
LINEAR = {
    "initial_instance_count": 2,
    "strategy": "linear",
    "linear_step_percent": 20,
    "wait_interval_seconds": 180,
    "termination_wait_seconds": 300,
    "maximum_execution_timeout_seconds": 7200,
}
SERVERLESS = {"serverless": True, "serverless_memory_mb": 3072, "serverless_max_concurrency": 8}


def _synthesize_with(deployment: dict[str, object], tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    config = load_config(EXAMPLE_CONFIG).model_dump(mode="json", exclude_none=True)
    config["deployment"].update(deployment)
    directory = tmp_path_factory.mktemp("guardrails")
    config_path = directory / "pipeline.json"
    config_path.write_text(json.dumps(config))
    return synthesize(config_path, directory / "cdk.out")


@pytest.fixture(scope="module")
def canary(tmp_path_factory) -> Synthesized:
    return _synthesize_with(CANARY, tmp_path_factory)


@pytest.fixture(scope="module")
def linear(tmp_path_factory) -> Synthesized:
    return _synthesize_with(LINEAR, tmp_path_factory)


@pytest.fixture(scope="module")
def serverless(tmp_path_factory) -> Synthesized:
    return _synthesize_with(SERVERLESS, tmp_path_factory)


def _states(synthesized: Synthesized) -> dict[str, dict]:
    return synthesized.definition()["States"]


def _rollback_alarm_names(synthesized: Synthesized) -> list[str]:
    project = synthesized.config.project
    names = [f"{project}-errors", f"{project}-latency"]
    alarms = {alarm["Properties"]["AlarmName"] for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values()}
    # The rollback alarms are the stack's own alarms, not names that merely look right.
    assert set(names) <= alarms, sorted(alarms)
    return names


def _nag_violations(synthesized: Synthesized) -> list[tuple[str, str]]:
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    return [
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
        for construct in violation["violatingConstructs"]
    ]


def test_canary_update_shifts_the_configured_share_and_rolls_back_on_the_endpoint_alarms(canary):
    deployment = _states(canary)["Update endpoint"]["Parameters"]["DeploymentConfig"]

    assert deployment == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                "WaitIntervalInSeconds": 420,
            },
            "TerminationWaitInSeconds": 900,
            "MaximumExecutionTimeoutInSeconds": 5400,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in _rollback_alarm_names(canary)]},
    }
    assert _nag_violations(canary) == []


def test_linear_update_shifts_the_configured_steps(linear):
    deployment = _states(linear)["Update endpoint"]["Parameters"]["DeploymentConfig"]

    assert deployment["BlueGreenUpdatePolicy"] == {
        "TrafficRoutingConfiguration": {
            "Type": "LINEAR",
            "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 20},
            "WaitIntervalInSeconds": 180,
        },
        "TerminationWaitInSeconds": 300,
        "MaximumExecutionTimeoutInSeconds": 7200,
    }
    assert deployment["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": name} for name in _rollback_alarm_names(linear)]
    }
    assert _nag_violations(linear) == []


def test_serverless_endpoint_config_has_no_data_capture_and_updates_without_blue_green(serverless):
    states = _states(serverless)
    endpoint_config = states["Create endpoint config"]["Parameters"]

    (variant,) = endpoint_config["ProductionVariants"]

    assert variant == {
        "VariantName": "AllTraffic",
        "ModelName.$": "$.registration.model_name",
        "ServerlessConfig": {"MemorySizeInMB": 3072, "MaxConcurrency": 8},
    }
    assert "DataCaptureConfig" not in endpoint_config
    assert "DeploymentConfig" not in states["Update endpoint"]["Parameters"]
    assert "DeploymentConfig" not in states["Create endpoint"]["Parameters"]
    assert _nag_violations(serverless) == []
