"""Validating a file to be scored: the training upload's checks without the target, and the
rows to score written in file order with their row numbers and ids. Pure: local files only."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from functions.common.config import ColumnSchema, PipelineConfig
from functions.validate_data.scoring_rows import FEATURES, QUARANTINED, ROWS, model_features
from functions.validate_data.validation import validate_file
from mlops.schema_inference import infer_config
from tests.support import datasets


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return datasets.breast_cancer()


@pytest.fixture(scope="module")
def config(frame: pd.DataFrame) -> PipelineConfig:
    config = infer_config(frame, "target")
    # An id column the model does not take and the predictions must carry.
    columns = [ColumnSchema(name="patient_id", type="ignore"), *config.dataset.columns]
    return config.model_copy(update={"dataset": config.dataset.model_copy(update={"columns": columns})})


def _batch_file(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "to_score.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_file_without_the_target_is_accepted_and_written_in_file_order(tmp_path, frame, config):
    # Given rows without the target, shuffled, with an id column, and a third of them repeated
    # (a training upload allows 10 %)
    rows = frame.drop(columns=["target"]).sample(frac=1.0, random_state=3).head(120)
    rows.insert(0, "patient_id", [f"p{i}" for i in range(len(rows))])
    rows = pd.concat([rows, rows.head(60)])
    # When it is validated for scoring
    outcome = validate_file(_batch_file(tmp_path, rows), config, work_dir=tmp_path / "out", purpose="scoring")
    # Then it is accepted (duplicates and a small file are fine to score) and every row is kept
    assert outcome.accepted, outcome.errors
    assert outcome.rows == len(rows)
    features = pd.read_csv(outcome.split_files[FEATURES], header=None)
    assert len(features) == len(rows)
    names = [column.name for column in model_features(config)]
    assert "patient_id" not in names and "target" not in names
    pd.testing.assert_frame_equal(
        features.set_axis(names, axis=1).reset_index(drop=True),
        rows[names].reset_index(drop=True),
        check_dtype=False,
    )
    with outcome.split_files[ROWS].open() as stream:
        row_ids = list(csv.DictReader(stream))
    assert [int(row["row"]) for row in row_ids] == list(range(1, len(rows) + 1))
    assert [row["patient_id"] for row in row_ids] == list(rows["patient_id"])


def test_a_file_of_a_few_rows_is_worth_scoring(tmp_path, frame, config):
    rows = frame.drop(columns=["target"]).head(3)
    rows.insert(0, "patient_id", ["a", "b", "c"])
    outcome = validate_file(_batch_file(tmp_path, rows), config, work_dir=tmp_path / "out", purpose="scoring")
    assert outcome.accepted, outcome.errors
    assert len(pd.read_csv(outcome.split_files[FEATURES], header=None)) == 3


def test_a_training_upload_still_needs_its_target(tmp_path, frame, config):
    rows = frame.drop(columns=["target"]).head(80)
    rows.insert(0, "patient_id", range(len(rows)))
    outcome = validate_file(_batch_file(tmp_path, rows), config, work_dir=tmp_path / "out")
    assert not outcome.accepted
    assert [finding.check for finding in outcome.errors] == ["missing_target"]


def test_a_target_in_a_file_to_score_is_neither_checked_nor_scored(tmp_path, frame, config):
    # Given rows that carry a target of one class only (a training upload would be refused)
    rows = frame[frame["target"] == 1].head(40).copy()
    rows.insert(0, "patient_id", range(len(rows)))
    outcome = validate_file(_batch_file(tmp_path, rows), config, work_dir=tmp_path / "out", purpose="scoring")
    assert outcome.accepted, outcome.errors
    assert pd.read_csv(outcome.split_files[FEATURES], header=None).shape[1] == len(model_features(config))


def test_a_feature_column_missing_rejects_the_file_before_any_row(tmp_path, frame, config):
    rows = frame.drop(columns=["target", "mean_radius"]).head(40)
    rows.insert(0, "patient_id", range(len(rows)))
    outcome = validate_file(_batch_file(tmp_path, rows), config, work_dir=tmp_path / "out", purpose="scoring")
    assert not outcome.accepted
    assert [finding.check for finding in outcome.errors] == ["missing_columns"]


def test_rows_held_back_by_a_tolerance_are_quarantined_and_not_scored(tmp_path, frame, config):
    # Given 200 rows, one of them far above a column's range (within the 0.99 tolerance)
    rows = frame.drop(columns=["target"]).head(200).copy()
    rows.insert(0, "patient_id", [f"p{i}" for i in range(len(rows))])
    rows.loc[rows.index[5], "mean_radius"] = 1e6
    outcome = validate_file(_batch_file(tmp_path, rows), config, work_dir=tmp_path / "out", purpose="scoring")
    assert outcome.accepted, outcome.errors
    assert outcome.quarantined_rows == 1
    assert len(pd.read_csv(outcome.split_files[FEATURES], header=None)) == 199
    kept = pd.read_csv(outcome.split_files[ROWS])
    assert 6 not in set(kept["row"]) and len(kept) == 199
    held = pd.read_csv(outcome.split_files[QUARANTINED])
    assert list(held["patient_id"]) == ["p5"]
    assert "mean_radius" in held["quarantine_reason"].iloc[0]
