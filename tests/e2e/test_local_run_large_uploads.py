"""`mlops local run --json` prints one line per upload whatever the size: uploads above boto3's
8 MB multipart threshold are sent by transfer threads while functions run on the state
machine's threads, and no line may land anywhere but the caller's output."""

from __future__ import annotations

import pytest

from functions.common.outcome import Outcome
from tests.support.local_pipeline_runs import init_config, local_run, write_csv

pytestmark = pytest.mark.e2e

MULTIPART_THRESHOLD_BYTES = 8 * 1024 * 1024


def test_every_large_upload_gets_its_line_and_the_caller_goes_on(tmp_path, capsys, breast_cancer_frame):
    # Given a config, a 30 MB file of one field per line and a 23 MB file 20,000 columns wide
    sample = write_csv(breast_cancer_frame, tmp_path / "cancer.csv")
    config = init_config(sample, "target", tmp_path / "pipeline.json")
    single_field = tmp_path / "single_field.csv"
    single_field.write_bytes(b"value\n" + b"123456789012345\n" * (30 * 1024 * 1024 // 16))
    wide = tmp_path / "wide.csv"
    header = ",".join(f"c{index}" for index in range(20_000)).encode()
    row = ",".join(["1.5"] * 20_000).encode()
    wide.write_bytes(header + b"\n" + b"\n".join([row] * (23 * 1024 * 1024 // len(row))) + b"\n")
    assert single_field.stat().st_size > MULTIPART_THRESHOLD_BYTES and wide.stat().st_size > MULTIPART_THRESHOLD_BYTES

    # When both are run with --json
    exit_code, results = local_run(capsys, config, single_field, wide)

    # Then each has its line, both are rejected for their header, and the caller carries on
    assert [result["file"] for result in results] == ["single_field.csv", "wide.csv"]
    assert [result["outcome"] for result in results] == [Outcome.DATA_REJECTED, Outcome.DATA_REJECTED]
    assert all(result["quarantine_uri"] for result in results)
    assert exit_code == 0
