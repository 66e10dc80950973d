"""Uploads above validation.max_lambda_file_bytes are validated by the SageMaker Processing job
(run locally as a process) and come to the outcomes the Lambda route gives: a deployment for good
data, a rejection with a quarantine copy and its reason for bad data."""

from __future__ import annotations

import json

import pytest

from functions.common.outcome import Outcome
from mlops.local.cloud import LocalCloud
from mlops.local.runner import run_upload
from tests.support.local_pipeline_runs import init_config, write_csv

pytestmark = pytest.mark.e2e

# The full breast cancer file (about 120 kB) is above this; 150 of its rows are below.
MAX_LAMBDA_FILE_BYTES = 50_000
JOB_ROUTE = ("Plan validation job", "Start validation job", "Describe validation job", "Conclude validation job")


def _states(result) -> list[str]:
    return [state["name"] for state in result.execution["states"]]


def _quarantine(cloud: LocalCloud, result) -> tuple[bytes, dict]:
    s3 = cloud.client("s3")
    bucket, key = result.quarantine_uri.removeprefix("s3://").split("/", 1)
    copy = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    # quarantine/<execution>/upload/<file> and quarantine/<execution>/reason.json
    reason_key = key.rsplit("/", 2)[0] + "/reason.json"
    reason = json.loads(s3.get_object(Bucket=bucket, Key=reason_key)["Body"].read())
    return copy, reason


def test_large_uploads_are_validated_by_the_job_deployed_or_quarantined_as_on_the_lambda_route(tmp_path, breast_cancer_frame):
    # Given a config whose Lambda route takes files up to 50 kB
    data = write_csv(breast_cancer_frame, tmp_path / "cancer.csv")
    config = init_config(data, "target", tmp_path / "pipeline.json", validation__max_lambda_file_bytes=MAX_LAMBDA_FILE_BYTES)
    broken_frame = breast_cancer_frame.copy()
    broken_frame["mean_radius"] = "n/a"
    broken_large = write_csv(broken_frame, tmp_path / "cancer_broken_large.csv")
    broken_small = write_csv(broken_frame.iloc[:150], tmp_path / "cancer_broken_small.csv")
    # polars writes zstd by default; the function's pyarrow (the pandas layer's) cannot read it.
    broken_zstd = tmp_path / "cancer_broken_small.parquet"
    # Without statistics, dictionaries and the pandas schema, so that it stays below the limit.
    broken_frame.iloc[:150].to_parquet(
        broken_zstd, index=False, compression="zstd", write_statistics=False, use_dictionary=False, store_schema=False
    )
    assert data.stat().st_size > MAX_LAMBDA_FILE_BYTES and broken_large.stat().st_size > MAX_LAMBDA_FILE_BYTES
    assert broken_small.stat().st_size <= MAX_LAMBDA_FILE_BYTES and broken_zstd.stat().st_size <= MAX_LAMBDA_FILE_BYTES

    with LocalCloud(config) as cloud:
        # When the good file, then a broken one of each size, are uploaded
        deployed = run_upload(cloud, data)
        rejected_by_job = run_upload(cloud, broken_large)
        rejected_by_lambda = run_upload(cloud, broken_small)
        handed_to_job = run_upload(cloud, broken_zstd)

        # Then the good file went through the job and was trained on and deployed
        assert deployed.outcome == Outcome.DEPLOYED, deployed.reason
        assert set(JOB_ROUTE) <= set(_states(deployed))
        assert "Validate data" not in _states(deployed)
        assert deployed.validation["passed"] is True
        assert deployed.endpoint["model_version"] == 1
        runs = cloud.standins.processing.runs.values()
        # (one job each for the good file, the broken large file and the zstd file)
        assert len(runs) == 3 and all(run.succeeded for run in runs)

        # And the broken large file was rejected by the job's findings, with a quarantine copy and reason
        assert rejected_by_job.outcome == Outcome.DATA_REJECTED
        assert set(JOB_ROUTE) <= set(_states(rejected_by_job))
        assert any(error["column"] == "mean_radius" for error in rejected_by_job.validation["errors"])
        copy, reason = _quarantine(cloud, rejected_by_job)
        assert copy == broken_large.read_bytes()
        assert reason["reason"] == rejected_by_job.reason
        assert reason["source_uri"].endswith("/incoming/cancer_broken_large.csv")

        # Exactly as the Lambda route rejects the same problem in a small file
        assert "Validate data" in _states(rejected_by_lambda) and "Start validation job" not in _states(rejected_by_lambda)
        assert rejected_by_lambda.outcome == Outcome.DATA_REJECTED
        small_copy, small_reason = _quarantine(cloud, rejected_by_lambda)
        assert small_copy == broken_small.read_bytes()
        assert sorted(reason) == sorted(small_reason)
        assert {error["check"] for error in rejected_by_job.validation["errors"]} == {
            error["check"] for error in rejected_by_lambda.validation["errors"]
        }
        assert rejected_by_job.endpoint["model_version"] == rejected_by_lambda.endpoint["model_version"] == 1

        # And a small file the function cannot read (zstd Parquet) goes on to the job, which reads it
        # and finds what the function found in the same rows as CSV
        assert ["Validate data", *JOB_ROUTE] == [state for state in _states(handed_to_job) if state in ("Validate data", *JOB_ROUTE)]
        assert handed_to_job.outcome == Outcome.DATA_REJECTED, handed_to_job.reason
        assert {error["check"] for error in handed_to_job.validation["errors"]} == {
            error["check"] for error in rejected_by_lambda.validation["errors"]
        }
        zstd_copy, _ = _quarantine(cloud, handed_to_job)
        assert zstd_copy == broken_zstd.read_bytes()
