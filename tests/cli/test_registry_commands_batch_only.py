"""The operating commands when deployment.mode is batch_only: the stack exports no endpoint, and
the version in service is the newest approved one, which scores batch uploads."""

from __future__ import annotations

import boto3
import pytest

from mlops.cli import main
from mlops.cli_support import EXIT_OK, EXIT_USAGE
from registry_cli_support import ENDPOINT_NAME, audit_records, pipeline_config, stack_outputs


@pytest.fixture
def batch_only(deployment, monkeypatch, tmp_path):
    """The deployment's registry (versions 1 and 2 approved, 3 pending) under a batch_only config,
    whose stack exports no endpoint; an endpoint of the configured name serving version 2 is left
    in place to show that nothing reads it."""
    config = pipeline_config()
    config.deployment.mode = "batch_only"
    (tmp_path / "pipeline.json").write_text(config.to_json())
    outputs = {key: value for key, value in stack_outputs(deployment.topic_arn).items() if key != "EndpointName"}
    monkeypatch.setattr("mlops.aws_target.read_stack_outputs", lambda session, name: outputs)
    return deployment


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_approving_a_version_makes_it_the_one_versions_marks_as_scoring_batches(batch_only, capsys):
    status, approved, _ = run(capsys, "approve", "3", "--reason", "reviewed the evaluation report")
    _, listed, _ = run(capsys, "versions")

    assert status == EXIT_OK
    assert "Version 3 scores batch uploads from now on" in approved and ENDPOINT_NAME not in approved
    marked = [line.split()[1] for line in listed.splitlines() if line.startswith("*")]
    assert marked == ["3"]
    assert "No endpoint (deployment.mode batch_only)" in listed and ENDPOINT_NAME not in listed
    [record] = audit_records(boto3.client("s3"))
    assert (record["versions"]["before"], record["versions"]["after"]) == (2, 3)


def test_rollback_is_refused_and_points_to_reject(batch_only, capsys):
    status, _, err = run(capsys, "rollback", "--reason", "customers report wrong scores")

    assert status == EXIT_USAGE
    assert "batch_only" in err and "mlops reject" in err
    assert batch_only.update_endpoint_calls == []
