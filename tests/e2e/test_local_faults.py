"""Faults injected into the local cloud: SageMaker throttling and capacity errors are retried
with backoff, and a failed endpoint update leaves the previous version serving."""

from __future__ import annotations

import pytest

from functions.common.outcome import Outcome
from infra.constructs.training_workflow.states import RETRY_BACKOFF_RATE, SAGEMAKER_RETRY_INTERVAL
from mlops.local.cloud import LocalCloud
from mlops.local.runner import endpoint_status, run_upload
from tests.support.local_pipeline_runs import init_config, write_csv

pytestmark = pytest.mark.e2e


@pytest.fixture
def cancer_files(tmp_path, breast_cancer_frame):
    first = write_csv(breast_cancer_frame.iloc[:300], tmp_path / "cancer_2024_01.csv")
    more = write_csv(breast_cancer_frame, tmp_path / "cancer_2024_02.csv")
    return first, more, init_config(first, "target", tmp_path / "pipeline.json")


def test_throttling_and_capacity_errors_on_training_are_retried(cancer_files):
    first, _, config = cancer_files
    with LocalCloud(config) as cloud:
        # Given SageMaker answers the first two CreateTrainingJob calls with transient errors
        cloud.standins.inject_fault("CreateTrainingJob", "ThrottlingException", "Rate exceeded")
        cloud.standins.inject_fault("CreateTrainingJob", "ResourceLimitExceeded", "No capacity for ml.m5.large")
        # (the faults end by count, so the backoff is recorded rather than waited out)
        cloud.standins.wait_out_retries = False

        result = run_upload(cloud, first)

        # Then the state machine retried and the pipeline completed
        assert result.outcome == Outcome.DEPLOYED, result.reason
        assert cloud.standins.injected_faults["CreateTrainingJob"] == []
        assert len(cloud.standins.training.runs) == 1
        # And each retry waited twice as long as the one before, from SageMaker's retry interval
        first_wait = SAGEMAKER_RETRY_INTERVAL.to_seconds()
        assert cloud.standins.retry_waits_seconds == [first_wait, first_wait * RETRY_BACKOFF_RATE]


def test_a_failed_endpoint_update_leaves_the_previous_version_serving(cancer_files):
    first, more, config = cancer_files
    with LocalCloud(config) as cloud:
        assert run_upload(cloud, first).outcome == Outcome.DEPLOYED
        # Given the endpoint update fails with an error that is not transient
        cloud.standins.inject_fault("UpdateEndpoint", "ResourceNotFound", "Cannot update endpoint: config not found")

        result = run_upload(cloud, more)

        assert result.outcome == Outcome.FAILED
        assert "Cannot update endpoint" in result.reason
        assert endpoint_status(cloud)["model_version"] == 1


def test_an_update_sagemaker_rolled_back_is_reported_as_a_rollback(cancer_files):
    first, more, config = cancer_files
    with LocalCloud(config) as cloud:
        assert run_upload(cloud, first).outcome == Outcome.DEPLOYED
        # Given an auto-rollback alarm goes off while the new fleet bakes
        cloud.standins.endpoints.alarms_during_next_update.append("mlops-latency")

        result = run_upload(cloud, more)

        assert result.outcome == Outcome.FAILED
        assert result.reason.startswith("DeploymentRolledBack")
        assert endpoint_status(cloud)["model_version"] == 1
        # And the reason and the decision name the alarm that rolled it back
        assert "mlops-latency" in result.reason
        assert "mlops-latency" in result.decision["rollback_cause"]
