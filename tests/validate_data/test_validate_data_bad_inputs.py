"""A corpus of hostile and awkward uploads, and the table of what each must come to.

Every case runs through the handler. A rejected case asserts the check that caught it, words of
its reason, the quarantine copy next to a reason document with another key, the untouched
original and that no stack trace reaches the result. An accepted case asserts the rows held back
in the row-level quarantine and that the curated rows plus those rows are the upload's rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import lzma
import re
import tracemalloc
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from functions.common.config import PipelineConfig
from functions.validate_data.handler import lambda_handler
from functions.validate_data.validation import validate_file
from validate_data_support import DATA_BUCKET, request_for, to_csv_bytes

# The header's 200,000 names as Python strings and lists take tens of MB; the 17 MB of rows
# scanned column by column took 2.5 GB.
MAX_WIDE_HEADER_PEAK_BYTES = 150 * 1024 * 1024

Frames = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class BadInput:
    file_name: str
    # The check that rejects it; None for an upload that must be accepted.
    check: str | None
    build: Callable[[Frames], bytes]
    dataset: str = "breast_cancer"
    adjust_config: Callable[[PipelineConfig], None] | None = None
    # Words the reason must contain, so that it names the problem.
    reason_contains: str = ""
    # Rows an accepted upload holds back in the row-level quarantine.
    quarantined_rows: int = 0
    # The last segment of the S3 key when not file_name ("long": the key takes S3's 1,024 bytes).
    key_name: str | None = None

    @property
    def outcome(self) -> str:
        return "accepted" if self.check is None else "data_rejected"


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


def _allow_wide_header(config: PipelineConfig) -> None:
    config.validation.max_line_bytes = 4 * 1024 * 1024


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
        "x.csv", "range", lambda f: to_csv_bytes(_with(_bc(f), "mean_radius", slice(0, 30), -3.0))
    ),
    "unseen_category_when_strict": BadInput(
        "x.csv",
        "unseen_category",
        lambda f: to_csv_bytes(_with(_pg(f), "island", slice(0, 10), "Atlantis")),
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
        "x.csv", "target_nulls", lambda f: to_csv_bytes(_with(_pg(f), "species", slice(0, 10), None)), dataset="penguins"
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
        "x.csv",
        "markup_content",
        lambda f: b"<!DOCTYPE html>\n<html><body><h1>403 Forbidden</h1></body></html>\n",
        reason_contains="HTML",
    ),
    "json_instead_of_csv": BadInput(
        "x.csv",
        "json_content",
        lambda f: _bc(f).head(80).to_json(orient="records", lines=True).encode(),
        reason_contains="JSON",
    ),
    # Good data that must be accepted.
    "one_heavy_tail_value_above_the_range": BadInput(
        "x.csv", None, lambda f: to_csv_bytes(_with(_bc(f), "area_error", slice(7, 8), 5000.0)), quarantined_rows=1
    ),
    "a_few_unseen_categories_within_tolerance": BadInput(
        "x.csv",
        None,
        lambda f: to_csv_bytes(_with(_pg(f), "island", slice(0, 3), "Atlantis")),
        dataset="penguins",
        adjust_config=_island_unseen_is_error,
        quarantined_rows=3,
    ),
    "two_empty_targets_within_tolerance": BadInput(
        "x.csv",
        None,
        lambda f: to_csv_bytes(_with(_pg(f), "species", slice(5, 7), None)),
        dataset="penguins",
        quarantined_rows=2,
    ),
    "carriage_return_line_endings_over_1_mib": BadInput(
        "x.csv", None, lambda f: _over_one_mib(f).replace(b"\n", b"\r")
    ),
    "last_line_only_whitespace": BadInput("x.csv", None, lambda f: to_csv_bytes(_bc(f)) + b"   \n"),
    "gzip_named_with_255_characters": BadInput(
        "g" * 248 + ".csv.gz", None, lambda f: gzip.compress(to_csv_bytes(_bc(f).iloc[1:]))
    ),
    # Each accepted case has rows of its own: the module's bucket would call a repeat of rows, in
    # any order or encoding, a duplicate.
    "key_ending_in_dot_dot": BadInput("x.csv", None, lambda f: to_csv_bytes(_bc(f).head(500)), key_name=".."),
    "key_of_1024_bytes_with_any_characters": BadInput(
        "x.csv", None, lambda f: to_csv_bytes(_bc(f).tail(500)), key_name="long"
    ),
    # Hostile data whose reason must name the problem.
    "spaces_after_the_commas_of_the_header": BadInput(
        "x.csv",
        "malformed_header",
        lambda f: to_csv_bytes(_bc(f)).replace(b",", b", ", 30),
        reason_contains="spaces after the commas",
    ),
    "upload_named_reason_json": BadInput(
        "reason.json", "missing_target", lambda f: to_csv_bytes(_bc(f).drop(columns=["target"]))
    ),
    "utf16_without_bom": BadInput(
        "x.csv", "encoding", lambda f: _bc(f).to_csv(index=False).encode("utf-16-le"), reason_contains="UTF-16"
    ),
    "gzip_twice": BadInput(
        "x.csv.gz",
        "unreadable_compression",
        lambda f: gzip.compress(gzip.compress(to_csv_bytes(_bc(f)))),
        reason_contains="twice",
    ),
    "xz_compressed": BadInput(
        "x.csv", "unreadable_compression", lambda f: lzma.compress(to_csv_bytes(_bc(f))), reason_contains="xz"
    ),
    "comment_line_above_the_header": BadInput(
        "x.csv",
        "malformed_header",
        lambda f: b"# exported from the warehouse\n" + to_csv_bytes(_bc(f)),
        reason_contains="comment line",
    ),
    "trailing_delimiter": BadInput(
        "x.csv",
        "malformed_header",
        lambda f: to_csv_bytes(_bc(f)).replace(b"\n", b",\n"),
        reason_contains="trailing delimiter",
    ),
    "excel_separator_line": BadInput(
        "x.csv", "malformed_header", lambda f: b"sep=,\n" + to_csv_bytes(_bc(f)), reason_contains="separator hint"
    ),
    "pandas_index_column": BadInput(
        "x.csv", "malformed_header", lambda f: _bc(f).to_csv(index=True).encode(), reason_contains="index column"
    ),
    "invisible_character_in_a_name": BadInput(
        "x.csv",
        "missing_columns",
        lambda f: to_csv_bytes(_bc(f).rename(columns={"mean_radius": "mean\u200b_radius"})),
        reason_contains=r"'mean\u200b_radius'",
    ),
    "200000_columns_against_the_schema": BadInput(
        "x.csv", "missing_target", lambda f: _wide_file(200_000, 40), adjust_config=_allow_wide_header
    ),
}

# S3 keys run to 1,024 bytes of any characters; this last segment brings the key to exactly that.
LONG_KEY_PREFIX = "incoming/key_of_1024_bytes_with_any_characters/"
LONG_KEY_CHARACTERS = "ü %?#\\:*<>|\"'+&=;"


def _key_name(case_id: str, case: BadInput) -> str:
    if case.key_name != "long":
        return case.key_name or case.file_name
    room = 1024 - len(LONG_KEY_PREFIX.encode("utf-8")) - len(b".csv")
    name = (LONG_KEY_CHARACTERS * 100).encode("utf-8")[:room].decode("utf-8", "ignore")
    return name + "x" * (room - len(name.encode("utf-8"))) + ".csv"


def _over_one_mib(frames: Frames) -> bytes:
    """Distinct rows (no duplicates) of the breast cancer data, past 1 MiB."""
    frame = _bc(frames)
    copies = [frame.assign(mean_radius=frame["mean_radius"] + copy * 1e-4) for copy in range(10)]
    body = to_csv_bytes(pd.concat(copies))
    assert len(body) > 1024 * 1024
    return body


def _wide_file(columns: int, rows: int) -> bytes:
    header = ",".join(f"c{index}" for index in range(columns))
    row = ",".join("1" for _ in range(columns))
    return ("\n".join([header, *[row] * rows]) + "\n").encode()


def _zip(payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", payload)
    return buffer.getvalue()


def test_the_corpus_is_large_enough():
    assert len(BAD_INPUTS) >= 66
    assert sum(case.check is None for case in BAD_INPUTS.values()) >= 7


@pytest.fixture(scope="module")
def frames(breast_cancer, penguins) -> Frames:
    return {"breast_cancer": breast_cancer, "penguins": penguins}


@pytest.mark.parametrize("case_id", list(BAD_INPUTS))
def test_each_upload_of_the_corpus_ends_as_its_table_says(
    case_id, shared_aws, lambda_context, frames, breast_cancer_config, penguins_config
):
    aws = shared_aws
    case = BAD_INPUTS[case_id]
    config = (breast_cancer_config if case.dataset == "breast_cancer" else penguins_config).model_copy(deep=True)
    if case.adjust_config:
        case.adjust_config(config)
    aws.use_config(config)
    body = case.build(frames)
    execution_name = f"bad-{case_id.replace('_', '-')}"[:80]
    key = f"incoming/{case_id}/{_key_name(case_id, case)}"
    assert len(key.encode("utf-8")) <= 1024
    event = request_for(key, execution_name)
    aws.put(event["key"], body)

    result = lambda_handler(event, lambda_context)

    assert result["outcome"] == case.outcome, result["reason"]
    assert "Traceback" not in json.dumps(result)
    assert aws.get(event["key"]) == body
    if case.check is None:
        _assert_accepted(aws, result, case, execution_name)
    else:
        _assert_rejected(aws, result, case, execution_name, body)


def _assert_rejected(aws, result, case: BadInput, execution_name: str, body: bytes) -> None:
    checks = [finding["check"] for finding in result["errors"]]
    assert case.check in checks, f"expected {case.check}, got {checks}"
    assert result["reason"].startswith("The data was rejected:")
    assert case.reason_contains in result["reason"]
    copy_key = _key(result["quarantine_uri"])
    reason_key = f"quarantine/{execution_name}/reason.json"
    assert copy_key.startswith(f"quarantine/{execution_name}/upload/") and copy_key != reason_key
    assert aws.get(copy_key) == body
    reason_document = aws.get_json(reason_key)
    assert case.check in [finding["check"] for finding in reason_document["errors"]]
    assert reason_document["quarantine_uri"] == result["quarantine_uri"]
    assert result["channels"] is None and result["training_job_name"] is None


def _assert_accepted(aws, result, case: BadInput, execution_name: str) -> None:
    assert result["errors"] == []
    assert result["quarantined_rows"] == case.quarantined_rows
    split_rows = [len(aws.get(_key(uri) + "data.csv").decode().splitlines()) - 1 for uri in result["channels"].values()]
    assert sum(split_rows) + result["quarantined_rows"] == result["rows"]
    if case.quarantined_rows:
        rows_file = list(csv.reader(io.StringIO(aws.get(_key(result["quarantined_rows_uri"])).decode())))
        assert len(rows_file) == 1 + case.quarantined_rows and rows_file[0][-1] == "quarantine_reason"
        assert all(row[-1] for row in rows_file[1:])
        assert aws.get_json(f"quarantine/{execution_name}/reason.json")["quarantined_rows"] == case.quarantined_rows
        report = aws.get_json(f"reports/{execution_name}/validation.json")
        assert (report["quarantined_rows"], report["quarantined_rows_uri"]) == (case.quarantined_rows, result["quarantined_rows_uri"])
        page = aws.get(f"reports/{execution_name}/validation.html").decode()
        assert f"<tr><th>Quarantined rows</th><td>{case.quarantined_rows} ({result['quarantined_rows_uri']})</td></tr>" in page
    else:
        assert result["quarantined_rows_uri"] is None
        assert aws.keys(f"quarantine/{execution_name}/") == []


def _key(uri: str) -> str:
    return uri.removeprefix(f"s3://{DATA_BUCKET}/")


@pytest.mark.parametrize(
    ("key", "execution_name"),
    [
        ("incoming/rejected/..", "rejected-under-a-key-ending-in-dot-dot"),
        (
            LONG_KEY_PREFIX + _key_name("long", BAD_INPUTS["key_of_1024_bytes_with_any_characters"]),
            "rejected-under-a-key-of-1024-bytes",
        ),
    ],
    ids=["key_ending_in_dot_dot", "key_of_1024_bytes"],
)
def test_a_rejected_upload_whose_name_cannot_be_kept_is_quarantined_under_a_digest_of_its_key(
    key, execution_name, shared_aws, lambda_context, breast_cancer, breast_cancer_config
):
    # Given a file without its target under a key whose last segment is ".." or that takes S3's 1,024 bytes
    aws = shared_aws
    aws.use_config(breast_cancer_config)
    assert key.endswith("/..") or len(key.encode("utf-8")) == 1024
    body = to_csv_bytes(breast_cancer.drop(columns=["target"]).head(200))
    event = request_for(key, execution_name)
    aws.put(key, body)

    # When it is validated
    result = lambda_handler(event, lambda_context)

    # Then the copy is kept under upload/ with a digest of the key for its name, a valid key
    # within S3's limit and not the reason document's
    assert result["outcome"] == "data_rejected", result["reason"]
    copy_key = _key(result["quarantine_uri"])
    copy_name = copy_key.removeprefix(f"quarantine/{execution_name}/upload/")
    assert re.fullmatch(r"[0-9a-f]{32}(\.csv)?", copy_name), copy_key
    assert len(copy_key.encode("utf-8")) <= 1024
    assert copy_key != f"quarantine/{execution_name}/reason.json"
    assert aws.get(copy_key) == body
    assert aws.keys(f"quarantine/{execution_name}/upload/") == [copy_key]
    assert aws.get_json(f"quarantine/{execution_name}/reason.json")["quarantine_uri"] == result["quarantine_uri"]
    assert aws.get(key) == body


def test_a_header_that_disagrees_with_the_schema_is_rejected_in_bounded_memory(tmp_path, breast_cancer_config):
    # Given a file of 200,000 columns and 40 rows whose header the schema does not know
    path = tmp_path / "wide.csv"
    path.write_bytes(_wide_file(200_000, 40))
    config = breast_cancer_config.model_copy(deep=True)
    _allow_wide_header(config)

    # When it is validated
    tracemalloc.start()
    try:
        outcome = validate_file(path, config, work_dir=tmp_path / "splits")
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Then it is rejected on its header, without reading a row, in memory of the header's order
    assert not outcome.accepted and outcome.rows == 0
    assert {finding.check for finding in outcome.errors} == {"missing_target", "missing_columns", "unexpected_columns"}
    assert peak_bytes < MAX_WIDE_HEADER_PEAK_BYTES
