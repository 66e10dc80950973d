"""A Parquet upload compressed with a codec the function's pyarrow lacks (the AWS SDK for pandas
layer has gzip and snappy only; zstd is polars' default) is validated by the validation job,
whose image reads every codec, on the training route and the batch route alike."""

from __future__ import annotations

import io

import pandas as pd

from functions.validate_data.handler import lambda_handler
from infra import runtime_manifest
from mlops.local.lambda_runtime import layer_arrow_codecs
from validate_data_support import accept_upload, request_for, run_validation_job

EXECUTION = "cccccccc-0000-4000-8000-0000000c0dec"


def _zstd_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression="zstd")
    return buffer.getvalue()


def _in_the_function(event, lambda_context):
    with layer_arrow_codecs(runtime_manifest.lambda_arrow_codecs()):
        return lambda_handler(event, lambda_context)


def test_a_zstd_training_upload_goes_to_the_validation_job_and_is_accepted_there(aws, lambda_context, breast_cancer, tmp_path):
    # Given a zstd Parquet upload well below the Lambda route's size limit
    aws.put("incoming/cancer.parquet", _zstd_parquet(breast_cancer))
    event = request_for("incoming/cancer.parquet", EXECUTION)

    # When the function validates it, then the job route runs (plan, the image's job, conclude)
    handed_on = _in_the_function(event, lambda_context)
    plan = _in_the_function({**event, "mode": "plan"}, lambda_context)
    run_validation_job(aws, plan, tmp_path)
    concluded = _in_the_function({**event, "mode": "conclude"}, lambda_context)

    # Then the function hands it on naming the codec, nothing is curated or quarantined by it,
    # and the job accepts the rows
    assert handed_on["outcome"] == "validation_job_needed", handed_on
    assert "ZSTD" in handed_on["reason"]
    assert aws.keys("quarantine/") == []
    assert concluded["outcome"] == "accepted", concluded
    assert concluded["rows"] == len(breast_cancer)


def test_a_zstd_batch_file_is_validated_by_the_job(aws, lambda_context, breast_cancer):
    # Given a version serving and a zstd Parquet file to score
    aws.serve_version(accept_upload(aws, lambda_context, breast_cancer.iloc[:300], "train.csv", "0f1e2d3c-0001"))
    aws.put("batch/score.parquet", _zstd_parquet(breast_cancer.drop(columns=["target"]).iloc[300:]))

    # When the function plans the batch
    staged = _in_the_function({**request_for("batch/score.parquet", EXECUTION), "mode": "batch"}, lambda_context)

    # Then the validation job is staged for it, naming the codec
    assert staged["outcome"] == "validate_in_job", staged
    assert "ZSTD" in staged["reason"]
