"""Target leakage over several chunks: a feature that relabels the classes in every chunk is
found; one whose mapping breaks in the last chunk, or that gains a second value for a class, is
not (the tally stops early once it cannot be one-to-one, with the same verdict)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from functions.common.config import ColumnSchema, DatasetSchema, GateConfig, PipelineConfig, ValidationConfig
from functions.validate_data.validation import validate_file

ROWS = 1_000
CHUNK_ROWS = 150


def leakage_config() -> PipelineConfig:
    dataset = DatasetSchema(
        target="target",
        problem_type="binary",
        columns=[
            ColumnSchema(name="amount", type="float"),
            ColumnSchema(name="code", type="category"),
            ColumnSchema(name="target", type="category", categories=["yes", "no"]),
        ],
        max_duplicate_fraction=1.0,
    )
    return PipelineConfig(dataset=dataset, gates=GateConfig(primary_metric="roc_auc"), validation=ValidationConfig(chunk_rows=CHUNK_ROWS))


def leakage_checks(last_row: str, tmp_path) -> list[str]:
    """Leakage findings on `code`, the classes' own code in every row but the last, where it is
    the same ("own"), the other class's ("other") or a new value ("new")."""
    rng = np.random.default_rng(7)
    target = rng.choice(["yes", "no"], ROWS)
    code = np.where(target == "yes", "A", "B").astype(object)
    code[-1] = {"own": code[-1], "other": "B" if code[-1] == "A" else "A", "new": "C"}[last_row]
    path = tmp_path / "upload.csv"
    pd.DataFrame({"amount": rng.random(ROWS), "code": code, "target": target}).to_csv(path, index=False)
    outcome = validate_file(path, leakage_config())
    return [finding.check for finding in outcome.errors if finding.column == "code"]


def test_a_feature_relabelling_the_classes_in_every_chunk_is_leakage(tmp_path):
    assert leakage_checks("own", tmp_path) == ["leakage"]


@pytest.mark.parametrize("last_row", ["other", "new"])
def test_a_mapping_broken_in_the_last_chunk_is_not_leakage(last_row, tmp_path):
    assert leakage_checks(last_row, tmp_path) == []


@pytest.mark.parametrize(
    "column_type, yes_texts, no_texts",
    [
        # Written two ways, one label: still one value per class.
        ("category", [" A", "A"], ["B", "B "]),
        ("integer", ["1", "1.0"], ["2", "2.0"]),
    ],
)
def test_a_relabelling_written_several_ways_is_leakage(column_type, yes_texts, no_texts, tmp_path):
    rng = np.random.default_rng(11)
    target = rng.choice(["yes", "no"], ROWS)
    code = np.where(target == "yes", rng.choice(yes_texts, ROWS), rng.choice(no_texts, ROWS))
    path = tmp_path / "upload.csv"
    pd.DataFrame({"amount": rng.random(ROWS), "code": code, "target": target}).to_csv(path, index=False)
    config = leakage_config()
    config.dataset.columns[1] = ColumnSchema(name="code", type=column_type)
    outcome = validate_file(path, config)
    assert [finding.check for finding in outcome.errors if finding.column == "code"] == ["leakage"]
