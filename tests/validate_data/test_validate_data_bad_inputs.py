"""A corpus of broken uploads, each rejected through the handler with a named check.

Every case asserts the outcome, the check that caught it, the quarantine copy, the untouched
original and that no stack trace reaches the result.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from functions.common.config import PipelineConfig
from functions.validate_data.handler import lambda_handler
from validate_data_support import request_for, to_csv_bytes

Frames = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class BadInput:
    file_name: str
    check: str
    build: Callable[[Frames], bytes]
    dataset: str = "breast_cancer"
    adjust_config: Callable[[PipelineConfig], None] | None = None


def _bc(frames: Frames) -> pd.DataFrame:
    return frames["breast_cancer"].copy()


def _pg(frames: Frames) -> pd.DataFrame:
    return frames["penguins"].copy()


def _with(frame: pd.DataFrame, column: str, rows: slice, value) -> pd.DataFrame:
    frame = frame.astype({column: object})
    frame.loc[frame.index[rows], column] = value
    return frame


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _set_line_limit(config: PipelineConfig) -> None:
    config.validation.max_line_bytes = 4096


def _island_unseen_is_error(config: PipelineConfig) -> None:
    config.dataset.column("island").unseen_category = "error"


def _sex_not_nullable(config: PipelineConfig) -> None:
    config.dataset.column("sex").nullable = False


BAD_INPUTS: dict[str, BadInput] = {
    "missing_target_column": BadInput("x.csv", "missing_target", lambda f: to_csv_bytes(_bc(f).drop(columns=["target"]))),
    "missing_feature_column": BadInput(
        "x.csv", "missing_columns", lambda f: to_csv_bytes(_bc(f).drop(columns=["worst_area"]))
    ),
    "unexpected_column": BadInput("x.csv", "unexpected_columns", lambda f: to_csv_bytes(_bc(f).assign(patient_id=1))),
    "renamed_headers": BadInput(
        "x.csv", "missing_columns", lambda f: to_csv_bytes(_bc(f).rename(columns=lambda name: name.upper()))
    ),
    "wrong_type_text_in_numeric": BadInput(
        "x.csv", "type", lambda f: to_csv_bytes(_with(_bc(f), "mean_radius", slice(0, 30), "twelve"))
    ),
    "decimal_comma_numbers": BadInput(
        "x.csv", "type", lambda f: to_csv_bytes(_bc(f).assign(mean_area=lambda d: d["mean_area"].map(lambda v: f"{v:.1f}".replace(".", ","))))
    ),
    "fraction_in_integer_column": BadInput(
        "x.csv", "type", lambda f: to_csv_bytes(_with(_pg(f), "year", slice(0, 5), 2007.5)), dataset="penguins"
    ),
    "infinite_values": BadInput("x.csv", "type", lambda f: to_csv_bytes(_with(_bc(f), "mean_area", slice(0, 3), "inf"))),
    "range_violation": BadInput(
        "x.csv", "range", lambda f: to_csv_bytes(_bc(f).assign(mean_area=lambda d: d["mean_area"] * 1000))
    ),
    "negative_in_non_negative_column": BadInput(
        "x.csv", "range", lambda f: to_csv_bytes(_with(_bc(f), "mean_radius", slice(0, 4), -3.0))
    ),
    "unseen_category_when_strict": BadInput(
        "x.csv",
        "unseen_category",
        lambda f: to_csv_bytes(_with(_pg(f), "island", slice(0, 3), "Atlantis")),
        dataset="penguins",
        adjust_config=_island_unseen_is_error,
    ),
    "all_nulls_in_feature": BadInput("x.csv", "nulls", lambda f: to_csv_bytes(_bc(f).assign(mean_texture=np.nan))),
    "nulls_above_tolerance": BadInput(
        "x.csv", "nulls", lambda f: to_csv_bytes(_with(_pg(f), "sex", slice(0, 150), None)), dataset="penguins"
    ),
    "null_in_non_nullable_column": BadInput(
        "x.csv",
        "nulls",
        lambda f: to_csv_bytes(_pg(f)),
        dataset="penguins",
        adjust_config=_sex_not_nullable,
    ),
    "null_in_target": BadInput(
        "x.csv", "target_nulls", lambda f: to_csv_bytes(_with(_pg(f), "species", slice(0, 4), None)), dataset="penguins"
    ),
    "single_class_target": BadInput("x.csv", "single_class", lambda f: to_csv_bytes(_bc(f).query("target == 1"))),
    "too_few_rows_in_a_class": BadInput(
        "x.csv", "min_rows_per_class", lambda f: to_csv_bytes(pd.concat([_bc(f).query("target == 1"), _bc(f).query("target == 0").head(2)]))
    ),
    "unknown_class_in_binary_target": BadInput(
        "x.csv", "class_count", lambda f: to_csv_bytes(_with(_bc(f), "target", slice(0, 20), 2))
    ),
    "too_few_rows": BadInput("x.csv", "min_rows", lambda f: to_csv_bytes(pd.concat([_bc(f).head(5), _bc(f).tail(5)]))),
    "duplicate_rows": BadInput("x.csv", "duplicate_rows", lambda f: to_csv_bytes(pd.concat([_bc(f), _bc(f).head(200)]))),
    "leaky_feature_equals_target": BadInput(
        "x.csv", "leakage", lambda f: to_csv_bytes(_bc(f).assign(mean_radius=lambda d: d["target"]))
    ),
    "leaky_feature_relabels_target": BadInput(
        "x.csv",
        "leakage",
        lambda f: to_csv_bytes(_pg(f).assign(island=lambda d: d["species"].map({"Adelie": "Biscoe", "Chinstrap": "Dream", "Gentoo": "Torgersen"}))),
        dataset="penguins",
    ),
    "empty_file": BadInput("x.csv", "empty_file", lambda f: b""),
    "whitespace_only": BadInput("x.csv", "empty_file", lambda f: b"\n\n   \r\n"),
    "header_only": BadInput("x.csv", "header_only", lambda f: to_csv_bytes(_bc(f).head(0))),
    "semicolon_delimited": BadInput("x.csv", "delimiter", lambda f: to_csv_bytes(_bc(f), sep=";")),
    "tab_delimited": BadInput("x.tsv", "delimiter", lambda f: to_csv_bytes(_bc(f), sep="\t")),
    "pipe_delimited": BadInput("x.csv", "delimiter", lambda f: to_csv_bytes(_bc(f), sep="|")),
    "latin1_encoding": BadInput(
        "x.csv",
        "encoding",
        lambda f: _with(_pg(f), "island", slice(0, 3), "Biscoé").to_csv(index=False).encode("latin-1"),
        dataset="penguins",
    ),
    "utf16_encoding": BadInput("x.csv", "encoding", lambda f: _bc(f).to_csv(index=False).encode("utf-16")),
    "binary_garbage": BadInput("x.csv", "binary_content", lambda f: np.random.default_rng(5).bytes(4096)),
    "nul_bytes_in_text": BadInput("x.csv", "binary_content", lambda f: to_csv_bytes(_bc(f)).replace(b"\n", b"\n\x00", 3)),
    "gzip_truncated": BadInput("x.csv.gz", "unreadable_compression", lambda f: gzip.compress(to_csv_bytes(_bc(f)))[:2000]),
    "gz_name_but_not_gzip": BadInput("x.csv.gz", "unreadable_compression", lambda f: to_csv_bytes(_bc(f))),
    "gzip_of_binary_garbage": BadInput(
        "x.csv.gz", "binary_content", lambda f: gzip.compress(np.random.default_rng(6).bytes(4096))
    ),
    "zip_archive": BadInput("x.zip", "unreadable_compression", lambda f: _zip(to_csv_bytes(_bc(f)))),
    "parquet_corrupt": BadInput("x.parquet", "parquet_unreadable", lambda f: _parquet(_bc(f))[:-300]),
    "parquet_name_but_csv_garbage": BadInput("x.parquet", "parquet_unreadable", lambda f: b"PAR1 this is not parquet"),
    "parquet_missing_target": BadInput("x.parquet", "missing_target", lambda f: _parquet(_bc(f).drop(columns=["target"]))),
    "parquet_text_in_numeric": BadInput(
        "x.parquet", "type", lambda f: _parquet(_with(_bc(f), "mean_radius", slice(0, 5), "n/a?").astype({"mean_radius": str}))
    ),
    "line_too_long": BadInput(
        "x.csv",
        "line_too_long",
        lambda f: to_csv_bytes(_with(_bc(f), "mean_radius", slice(0, 1), "9" * 10_000)),
        adjust_config=_set_line_limit,
    ),
    "ragged_row_extra_field": BadInput("x.csv", "malformed_rows", lambda f: to_csv_bytes(_bc(f)) + b"1,2,3" + b",4" * 40 + b"\n"),
    "ragged_row_missing_fields": BadInput("x.csv", "malformed_rows", lambda f: to_csv_bytes(_bc(f)) + b"14.2,20.1,92.0\n"),
    "unclosed_quote": BadInput("x.csv", "malformed_rows", lambda f: to_csv_bytes(_bc(f)) + b'"14.2,20.1,92.0\n'),
    "duplicate_header_names": BadInput(
        "x.csv", "duplicate_columns", lambda f: to_csv_bytes(_bc(f)).replace(b"mean_texture", b"mean_radius", 1)
    ),
    "html_error_page": BadInput(
        "x.csv", "missing_target", lambda f: b"<!DOCTYPE html>\n<html><body><h1>403 Forbidden</h1></body></html>\n"
    ),
    "json_instead_of_csv": BadInput(
        "x.csv", "malformed_rows", lambda f: _bc(f).head(80).to_json(orient="records", lines=True).encode()
    ),
}


def _zip(payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", payload)
    return buffer.getvalue()


def test_the_corpus_is_large_enough():
    assert len(BAD_INPUTS) >= 30


@pytest.fixture(scope="module")
def frames(breast_cancer, penguins) -> Frames:
    return {"breast_cancer": breast_cancer, "penguins": penguins}


@pytest.mark.parametrize("case_id", list(BAD_INPUTS))
def test_bad_input_is_rejected_and_quarantined(case_id, shared_aws, lambda_context, frames, breast_cancer_config, penguins_config):
    aws = shared_aws
    case = BAD_INPUTS[case_id]
    config = (breast_cancer_config if case.dataset == "breast_cancer" else penguins_config).model_copy(deep=True)
    if case.adjust_config:
        case.adjust_config(config)
    aws.use_config(config)
    body = case.build(frames)
    execution_name = f"bad-{case_id.replace('_', '-')}"[:80]
    event = request_for(f"incoming/{case_id}/{case.file_name}", execution_name)
    aws.put(event["key"], body)

    result = lambda_handler(event, lambda_context)

    assert result["outcome"] == "data_rejected", result
    checks = [finding["check"] for finding in result["errors"]]
    assert case.check in checks, f"{case_id}: expected {case.check}, got {checks}"
    assert result["reason"].startswith("The data was rejected:")
    assert result["quarantine_uri"].endswith(f"quarantine/{execution_name}/{case.file_name}")
    assert aws.get(f"quarantine/{execution_name}/{case.file_name}") == body
    assert aws.get(event["key"]) == body
    reason_document = aws.get_json(f"quarantine/{execution_name}/reason.json")
    assert case.check in [finding["check"] for finding in reason_document["errors"]]
    assert "Traceback" not in json.dumps(result)
    assert result["channels"] is None and result["training_job_name"] is None
