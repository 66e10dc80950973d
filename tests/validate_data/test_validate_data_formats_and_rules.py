"""Pure validation: accepted file formats, safe coercions and rule details (no AWS)."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from functions.common.config import ColumnSchema, DatasetSchema, GateConfig, PipelineConfig
from functions.validate_data.validation import MAX_EXAMPLES_PER_FINDING, MAX_FINDINGS, validate_file


def _write(tmp_path: Path, name: str, body: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


GOOD_FORMATS = {
    "utf8_bom": ("x.csv", lambda f: b"\xef\xbb\xbf" + f.to_csv(index=False).encode()),
    "crlf_line_endings": ("x.csv", lambda f: f.to_csv(index=False, lineterminator="\r\n").encode()),
    "bom_and_crlf": ("x.csv", lambda f: b"\xef\xbb\xbf" + f.to_csv(index=False, lineterminator="\r\n").encode()),
    "gzip_by_name": ("x.csv.gz", lambda f: gzip.compress(f.to_csv(index=False).encode())),
    "gzip_by_magic_only": ("x.csv", lambda f: gzip.compress(f.to_csv(index=False).encode())),
    "parquet": ("x.parquet", _parquet),
    "parquet_without_suffix": ("upload", _parquet),
    "quoted_values_and_spaces": ("x.csv", lambda f: f.to_csv(index=False, quoting=1).replace('"Dream"', '" Dream "').encode()),
}


@pytest.mark.parametrize("case_id", list(GOOD_FORMATS))
def test_good_formats_are_accepted(case_id, tmp_path, penguins, penguins_config):
    file_name, build = GOOD_FORMATS[case_id]
    path = _write(tmp_path, file_name, build(penguins))

    outcome = validate_file(path, penguins_config, work_dir=tmp_path / "out")

    assert outcome.accepted, outcome.errors
    assert outcome.rows == len(penguins)
    assert sum(outcome.split_rows.values()) == len(penguins)


def test_quoted_newline_inside_a_category_is_one_value(tmp_path, penguins):
    frame = penguins.copy()
    frame["island"] = frame["island"].replace({"Dream": "Dream\nIsland"})
    from mlops.schema_inference import infer_config

    config = infer_config(frame, "species")
    path = _write(tmp_path, "x.csv", frame.to_csv(index=False).encode())

    outcome = validate_file(path, config, work_dir=tmp_path / "out")

    assert outcome.accepted, outcome.errors
    written = pd.concat(pd.read_csv(outcome.split_files[name]) for name in ("train", "validation", "test"))
    assert (written["island"] == "Dream\nIsland").sum() == (frame["island"] == "Dream\nIsland").sum()


def _config(columns: list[ColumnSchema], target: str = "label", **dataset) -> PipelineConfig:
    return PipelineConfig(
        dataset=DatasetSchema(target=target, problem_type="binary", columns=columns, min_rows=4, min_rows_per_class=2, **dataset),
        gates=GateConfig(primary_metric="roc_auc"),
    )


def test_stated_coercions_are_accepted(tmp_path):
    # integers written as floats, numeric strings, booleans as words or digits, categories as numbers
    config = _config(
        [
            ColumnSchema(name="count", type="integer", minimum=0, maximum=100),
            ColumnSchema(name="size", type="float"),
            ColumnSchema(name="flag", type="boolean"),
            ColumnSchema(name="label", type="category", categories=["0", "1"]),
        ]
    )
    body = "count,size,flag,label\n3.0,\" 1.5 \",true,0\n4,2e1,FALSE,1.0\n5,7,0,0\n6,8,1,1\n7,9,True,0\n8,10,false,1\n"
    outcome = validate_file(_write(tmp_path, "x.csv", body.encode()), config, work_dir=tmp_path / "out")

    assert outcome.accepted, outcome.errors
    assert outcome.class_counts == {"0": 3, "1": 3}
    written = pd.concat(pd.read_csv(outcome.split_files[name], dtype=str) for name in ("train", "validation", "test"))
    assert set(written["count"]) == {"3", "4", "5", "6", "7", "8"}
    assert set(written["flag"]) == {"True", "False"}
    assert set(written["label"]) == {"0", "1"}


def test_type_errors_name_examples_with_rows(tmp_path):
    config = _config([ColumnSchema(name="count", type="integer"), ColumnSchema(name="flag", type="boolean"),
                      ColumnSchema(name="label", type="category")])
    body = "count,flag,label\n1,yes,a\n2.5,true,b\nx,false,a\n4,true,b\n"
    outcome = validate_file(_write(tmp_path, "x.csv", body.encode()), config)

    findings = {(finding.check, finding.column): finding for finding in outcome.errors}
    assert findings[("type", "count")].examples == ["row 2: '2.5'", "row 3: 'x'"]
    assert findings[("type", "flag")].examples == ["row 1: 'yes'"]


def test_unseen_category_is_a_warning_by_default(tmp_path):
    config = _config([ColumnSchema(name="colour", type="category", categories=["red", "blue"]),
                      ColumnSchema(name="label", type="category")])
    body = "colour,label\nred,a\nblue,b\ngreen,a\nred,b\nblue,a\n"
    outcome = validate_file(_write(tmp_path, "x.csv", body.encode()), config)

    assert outcome.accepted
    assert [(finding.check, finding.column) for finding in outcome.warnings] == [("unseen_category", "colour")]
    assert outcome.warnings[0].examples == ["'green' (1 rows)"]


def test_findings_and_examples_are_capped(tmp_path):
    columns = [ColumnSchema(name=f"f{index}", type="float") for index in range(60)] + [
        ColumnSchema(name="label", type="category")
    ]
    config = _config(columns)
    header = ",".join(column.name for column in columns)
    rows = "\n".join(",".join(["bad"] * 60 + [label]) for label in "abababab")
    outcome = validate_file(_write(tmp_path, "x.csv", f"{header}\n{rows}\n".encode()), config)

    assert len(outcome.errors) == MAX_FINDINGS
    assert all(len(finding.examples) <= MAX_EXAMPLES_PER_FINDING for finding in outcome.errors)
    assert outcome.reason.endswith("more problem(s).")


def test_regression_target_must_be_numeric(tmp_path, penguins):
    from mlops.schema_inference import infer_config

    frame = penguins.dropna(subset=["body_mass_g"])
    config = infer_config(frame, "body_mass_g")
    assert config.dataset.problem_type == "regression"
    broken = frame.astype({"body_mass_g": object})
    broken.loc[broken.index[:3], "body_mass_g"] = "heavy"
    outcome = validate_file(_write(tmp_path, "x.csv", broken.to_csv(index=False).encode()), config)

    assert "target_type" in [finding.check for finding in outcome.errors]


def test_profile_is_built_for_accepted_data(tmp_path, breast_cancer, breast_cancer_config):
    outcome = validate_file(_write(tmp_path, "x.csv", breast_cancer.to_csv(index=False).encode()), breast_cancer_config)

    profile = outcome.profile
    assert profile["rows"] == len(breast_cancer)
    radius = profile["columns"]["mean_radius"]
    assert len(radius["edges"]) == breast_cancer_config.drift.bins - 1
    assert np.isclose(sum(radius["fractions"]), 1.0)
    assert profile["columns"]["target"]["kind"] == "categorical"
