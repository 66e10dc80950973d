"""A function in the local cloud reads Parquet as the AWS SDK for pandas layer's pyarrow does:
built with gzip and snappy only (infra/runtime_manifest.toml), so the reader refuses a zstd file,
polars' default, naming what to do, instead of reading it as the pip wheel would (the pipeline
hands such a file to the validation job before it reaches the reader:
tests/validate_data/test_validate_data_parquet_codecs.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from functions.common.config import ColumnSchema, DatasetSchema, GateConfig, PipelineConfig
from functions.validate_data.validation import validate_file
from infra import runtime_manifest
from mlops.local.lambda_runtime import layer_arrow_codecs

ROWS = 40


@pytest.fixture
def config() -> PipelineConfig:
    return PipelineConfig(
        dataset=DatasetSchema(
            target="label",
            problem_type="binary",
            columns=[ColumnSchema(name="size", type="float"), ColumnSchema(name="label", type="category")],
            min_rows=4,
            min_rows_per_class=2,
        ),
        gates=GateConfig(primary_metric="roc_auc"),
    )


def _parquet(tmp_path: Path, compression: str) -> Path:
    frame = pd.DataFrame({"size": [float(row) for row in range(ROWS)], "label": ["a", "b"] * (ROWS // 2)})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression=compression)
    path = tmp_path / f"upload-{compression}.parquet"
    path.write_bytes(buffer.getvalue())
    return path


def test_functions_see_only_the_layers_codecs_and_pyarrow_is_itself_again_after():
    with layer_arrow_codecs(runtime_manifest.lambda_arrow_codecs()):
        assert pa.Codec.is_available("snappy") and pa.Codec.is_available("gzip")
        assert not pa.Codec.is_available("zstd") and not pa.Codec.is_available("lz4")
        assert pa.Codec("gzip").name == "gzip"
    assert pa.Codec.is_available("zstd")


def test_a_zstd_parquet_upload_is_refused_in_a_function_naming_the_codec_and_the_fix(tmp_path, config):
    # Given a Parquet file compressed with zstd
    path = _parquet(tmp_path, "zstd")
    # When a function validates it
    with layer_arrow_codecs(runtime_manifest.lambda_arrow_codecs()):
        outcome = validate_file(path, config, work_dir=tmp_path / "out")
    # Then it is rejected before any row is read, saying which codec and what to write instead
    assert not outcome.accepted
    [finding] = outcome.errors
    assert finding.check == "parquet_codec"
    assert "ZSTD" in finding.message and 'compression="snappy"' in finding.message


@pytest.mark.parametrize("compression", ["snappy", "gzip", None])
def test_parquet_the_layer_reads_is_accepted_in_a_function(tmp_path, config, compression):
    path = _parquet(tmp_path, compression or "none")
    with layer_arrow_codecs(runtime_manifest.lambda_arrow_codecs()):
        outcome = validate_file(path, config, work_dir=tmp_path / "out")
    assert outcome.accepted, outcome.errors


def test_a_zstd_parquet_upload_is_read_where_pyarrow_has_the_codec(tmp_path, config):
    # The SageMaker image's pip pyarrow (the validation job's route) has every codec.
    outcome = validate_file(_parquet(tmp_path, "zstd"), config, work_dir=tmp_path / "out")
    assert outcome.accepted, outcome.errors


def codec_probe_handler(event, context):
    """A function handler for the test below: what pyarrow tells the function."""
    return {codec: pa.Codec.is_available(codec) for codec in event["codecs"]}


def test_an_invocation_runs_with_the_layers_codecs(tmp_path):
    from types import SimpleNamespace

    from mlops.local.lambda_runtime import InProcessLambdaRuntime

    runtime = InProcessLambdaRuntime(lambda bucket, key: tmp_path, {}, tmp_path)
    function = SimpleNamespace(
        handler=f"{__name__}.codec_probe_handler",
        code={},
        environment_vars={},
        function_name="probe",
        memory_size=128,
        timeout=3,
        role=None,
    )
    body, error = runtime.invoke(function, '{"codecs": ["snappy", "zstd"]}')
    assert error is None, body
    assert body == b'{"snappy": true, "zstd": false}'
