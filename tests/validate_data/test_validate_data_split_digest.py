"""The curated split files are byte-for-byte what they were: a fixed, awkward input (integers
written as "3.0", floats with nulls, -0.0, exponents and 17 significant digits, labels with
commas, quotes, newlines and non-ASCII text, booleans, dates, free text, a few rows held back
in the row-level quarantine) is validated over several chunks, as CSV (Arrow's reader), as CSV
the csv module reads (when Arrow's reader is refused) and as Parquet, and each file's SHA-256 is compared with
the digest recorded when the splits were written value by value with `repr` and csv.writer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from functions.common.config import ColumnSchema, DatasetSchema, GateConfig, PipelineConfig, ValidationConfig
from functions.validate_data.reader import ArrowPathUnavailable, Table
from functions.validate_data.validation import validate_file

ROWS = 3_000
CHUNK_ROWS = 700
SEED = 20251202
LABELS = ["plain", "with, comma", 'with "quotes"', "with\nnewline", "naïve café", " padded ", "7", "7.0", "0.5"]
FREE_TEXT = ["", "a,b", '"quoted"', "x", "ünïcödé", "tab\there"]
FLOAT_SPECIALS = ["-0.0", "1e-7", "1E22", "0.30000000000000004", "5", "2.5e+300", "NA", "", "  3.25 "]
INTEGER_SPECIALS = ["3.0", "-12", "9007199254740993", "0", "-0", " 42 "]

# SHA-256 of each file, recorded from the value-by-value writer (repr and csv.writer).
RECORDED_DIGESTS = {
    "quarantined": "8e539a75559d174b50b8e1cb38c98c738e899a00211d01bb67c39eda0a717d37",
    "test": "e1287edec1a4d579a12de793f3cad99fed306f4fa3ddb3e0c2f9d2ffbd94e2fe",
    "train": "66780bb8418647b6fd8b3e3ff8a779f25d61726443fc67cfabab221e63df1036",
    "validation": "8ed668f485f4d1da4a98229411e321971340d36cdbb217098755dbc207fbdf16",
}
# Every reading path writes the same bytes.
EXPECTED_DIGESTS = {"csv": RECORDED_DIGESTS, "csv_module": RECORDED_DIGESTS, "parquet": RECORDED_DIGESTS}


def awkward_frame() -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    digits = rng.integers(0, 6, ROWS)
    amount = np.array([repr(round(float(value), int(places))) for value, places in zip(rng.normal(100.0, 40.0, ROWS), digits)], dtype=object)
    amount[rng.random(ROWS) < 0.05] = ""
    specials = rng.random(ROWS) < 0.05
    amount[specials] = rng.choice(FLOAT_SPECIALS, specials.sum())
    count = rng.integers(-1000, 1000, ROWS).astype(str).astype(object)
    specials = rng.random(ROWS) < 0.05
    count[specials] = rng.choice(INTEGER_SPECIALS, specials.sum())
    ratio = rng.random(ROWS)
    ratio[rng.random(ROWS) < 0.004] = 1.5
    return pd.DataFrame(
        {
            "count": count,
            "amount": amount,
            "ratio": ratio,
            "label": rng.choice(LABELS, ROWS),
            "flag": rng.choice(["true", "False", "1", "0", "TRUE", "0.0"], ROWS),
            "day": rng.choice(["2024-01-31", "2024-02-29", "31/12/2023", "2023-06-01T12:00:00"], ROWS),
            "note": rng.choice(FREE_TEXT, ROWS),
            "target": rng.choice(["yes", "no"], ROWS),
        }
    )


def awkward_config() -> PipelineConfig:
    columns = [
        ColumnSchema(name="count", type="integer", minimum=-10**17, maximum=10**17),
        ColumnSchema(name="amount", type="float", nullable=True, max_null_fraction=0.2),
        ColumnSchema(name="ratio", type="float", minimum=0.0, maximum=1.0, mostly=0.99),
        ColumnSchema(name="label", type="category", categories=["plain", "7"]),
        ColumnSchema(name="flag", type="boolean"),
        ColumnSchema(name="day", type="date"),
        ColumnSchema(name="note", type="ignore", nullable=True, max_null_fraction=1.0),
        ColumnSchema(name="target", type="category", categories=["yes", "no"]),
    ]
    dataset = DatasetSchema(target="target", problem_type="binary", columns=columns, min_rows=100, max_duplicate_fraction=0.5)
    return PipelineConfig(
        dataset=dataset, gates=GateConfig(primary_metric="roc_auc"), validation=ValidationConfig(chunk_rows=CHUNK_ROWS)
    )


def write_input(kind: str, directory: Path) -> Path:
    frame = awkward_frame()
    if kind == "parquet":
        path = directory / "upload.parquet"
        frame.to_parquet(path, index=False)
        return path
    path = directory / "upload.csv"
    path.write_text(frame.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    return path


def split_digests(kind: str, directory: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    if kind == "csv_module":
        monkeypatch.setattr(Table, "iter_arrow_batches", _arrow_refused)
    outcome = validate_file(write_input(kind, directory), awkward_config(), work_dir=directory / "splits")
    assert outcome.accepted, outcome.errors
    assert outcome.quarantined_rows > 0
    return {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in sorted(outcome.split_files.items())}


@pytest.mark.parametrize("kind", sorted(EXPECTED_DIGESTS))
def test_curated_splits_are_byte_identical_to_the_recorded_ones(kind, tmp_path, monkeypatch):
    assert split_digests(kind, tmp_path, monkeypatch) == EXPECTED_DIGESTS[kind]


def _arrow_refused(table: Table):
    raise ArrowPathUnavailable("the test reads with the csv module")
    yield
