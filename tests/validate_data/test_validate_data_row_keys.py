"""Row keys kept in buckets on disk (row_keys.py) give the same verdicts, duplicate counts,
split counts and split files as one bucket in memory: the awkward input of the split digest
test, a regression table and a scoring file, each validated with buckets of a few rows."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from functions.common.config import ColumnSchema, DatasetSchema, GateConfig, PipelineConfig, ValidationConfig
from functions.validate_data import row_keys
from functions.validate_data.row_keys import RowKeyStore, bucket_bits
from functions.validate_data.validation import validate_file
from tests.validate_data.test_validate_data_split_digest import awkward_config, write_input

SMALL_BUCKET_ROWS = 64


def outcome_facts(path: Path, config: PipelineConfig, work_dir: Path, purpose: str = "training") -> dict:
    outcome = validate_file(path, config, work_dir=work_dir, purpose=purpose)
    return {
        "accepted": outcome.accepted,
        "errors": [finding.message for finding in outcome.errors],
        "warnings": [finding.message for finding in outcome.warnings],
        "duplicates": outcome.duplicate_rows,
        "split_rows": outcome.split_rows,
        "quarantined": outcome.quarantined_rows,
        "files": {name: hashlib.sha256(file.read_bytes()).hexdigest() for name, file in sorted(outcome.split_files.items())},
    }


def in_memory_and_on_disk(path: Path, config: PipelineConfig, tmp_path: Path, monkeypatch, purpose: str = "training"):
    in_memory = outcome_facts(path, config, tmp_path / "memory", purpose)
    monkeypatch.setattr(row_keys, "KEY_BUCKET_ROWS", SMALL_BUCKET_ROWS)
    on_disk = outcome_facts(path, config, tmp_path / "disk", purpose)
    return in_memory, on_disk


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_buckets_on_disk_split_the_awkward_input_as_memory_does(kind, tmp_path, monkeypatch):
    path = write_input(kind, tmp_path)
    in_memory, on_disk = in_memory_and_on_disk(path, awkward_config(), tmp_path, monkeypatch)
    assert in_memory["accepted"] and in_memory["quarantined"] > 0
    assert on_disk == in_memory
    # The bucket files are removed; only the upload and the two split folders remain.
    assert sorted(entry.name for entry in tmp_path.iterdir()) == sorted(["disk", "memory", path.name])


def regression_config() -> PipelineConfig:
    columns = [
        ColumnSchema(name="size", type="float", minimum=0.0, mostly=0.98),
        ColumnSchema(name="kind", type="category"),
        ColumnSchema(name="price", type="float", nullable=True, max_null_fraction=0.1, mostly=0.95),
    ]
    dataset = DatasetSchema(target="price", problem_type="regression", columns=columns, min_rows=100, max_duplicate_fraction=0.5)
    return PipelineConfig(dataset=dataset, gates=GateConfig(primary_metric="rmse"), validation=ValidationConfig(chunk_rows=300))


def test_buckets_on_disk_split_a_regression_table_as_memory_does(tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    rows = 2_000
    frame = pd.DataFrame(
        {
            "size": np.round(rng.normal(50, 20, rows), 1),
            "kind": rng.choice(["a", "b", "c"], rows),
            "price": np.round(rng.gamma(2.0, 10.0, rows), 0),
        }
    )
    frame.loc[rng.random(rows) < 0.03, "price"] = np.nan
    frame = pd.concat([frame, frame.iloc[:150]])
    path = tmp_path / "upload.csv"
    frame.to_csv(path, index=False)
    in_memory, on_disk = in_memory_and_on_disk(path, regression_config(), tmp_path, monkeypatch)
    assert in_memory["accepted"] and in_memory["quarantined"] > 0 and in_memory["duplicates"] >= 150
    assert on_disk == in_memory


def test_buckets_on_disk_flag_the_rows_of_a_scoring_file_as_memory_does(tmp_path, monkeypatch):
    path = write_input("csv", tmp_path)
    in_memory, on_disk = in_memory_and_on_disk(path, awkward_config(), tmp_path, monkeypatch, purpose="scoring")
    assert in_memory["accepted"] and in_memory["quarantined"] > 0
    assert on_disk == in_memory


def test_bucket_count_grows_with_the_rows_in_powers_of_two():
    assert bucket_bits(10, bucket_rows=64) == 0
    assert bucket_bits(64, bucket_rows=64) == 0
    assert bucket_bits(65, bucket_rows=64) == 1
    assert bucket_bits(64 * 5, bucket_rows=64) == 3


def test_a_bucket_holds_exactly_the_keys_with_its_top_bits(tmp_path, monkeypatch):
    monkeypatch.setattr(row_keys, "KEY_BUCKET_ROWS", 100)
    dtype = np.dtype([("key", np.uint64), ("flagged", np.bool_)])
    store = RowKeyStore(dtype, 1_000, tmp_path)
    keys = np.random.default_rng(3).integers(0, np.iinfo(np.uint64).max, 1_000, dtype=np.uint64)
    for start in range(0, 1_000, 300):
        records = np.zeros(len(keys[start : start + 300]), dtype=dtype)
        records["key"] = keys[start : start + 300]
        store.add(records)
    try:
        assert store.buckets == 16
        seen = []
        for index, records in store.iter_buckets():
            assert (store.bucket_of(records["key"]) == index).all()
            seen.append(records["key"])
        assert np.array_equal(np.sort(np.concatenate(seen)), np.sort(keys))
    finally:
        store.close()
    assert list(tmp_path.iterdir()) == []


def test_a_rejected_upload_leaves_no_lines_keys_or_splits_behind(tmp_path, monkeypatch):
    path = write_input("csv", tmp_path)
    config = awkward_config()
    config.dataset.min_rows = 1_000_000
    monkeypatch.setattr(row_keys, "KEY_BUCKET_ROWS", SMALL_BUCKET_ROWS)
    outcome = validate_file(path, config, work_dir=tmp_path / "splits")
    assert not outcome.accepted and outcome.split_files == {}
    assert [entry.name for entry in tmp_path.iterdir()] == [path.name]
