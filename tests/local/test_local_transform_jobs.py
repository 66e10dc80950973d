"""The local Batch Transform stand-in's splitting: records by line, mini-batches of whole records
within MaxPayloadInMB (one record each with SingleRecord), and a record above the limit fails the
job as SageMaker fails it. Pure."""

from __future__ import annotations

import pytest

from mlops.local.training_jobs import JobSetupError
from mlops.local.transform_jobs import mini_batches, split_records


def test_lines_are_records_and_blank_lines_are_not():
    assert split_records(b"1,2\n3,4\n\n5,6", "Line") == [b"1,2\n", b"3,4\n", b"5,6\n"]
    assert split_records(b"1,2\n3,4\n", None) == [b"1,2\n3,4\n"]


def test_multi_record_batches_hold_whole_records_within_the_limit():
    records = [b"a" * 4 + b"\n"] * 5  # 5 bytes each
    batches = mini_batches(records, max_payload_bytes=12, multi_record=True)
    assert [len(batch) for batch in batches] == [10, 10, 5]
    assert b"".join(batches) == b"".join(records)


def test_single_record_sends_one_record_per_request():
    records = [b"1\n", b"2\n", b"3\n"]
    assert mini_batches(records, max_payload_bytes=1000, multi_record=False) == records


def test_a_record_above_the_payload_limit_fails_the_job():
    with pytest.raises(JobSetupError, match="larger than MaxPayloadInMB"):
        mini_batches([b"x" * 20], max_payload_bytes=10, multi_record=True)
