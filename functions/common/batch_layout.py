"""Where batch scoring keeps things in the data bucket (beside s3_layout.py's training layout)."""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath

BATCH_PREFIX = "batch/"
# The transform job's input (the rows to score, as the model takes them) and output, per execution.
BATCH_JOBS_PREFIX = "batch-jobs/"
PREDICTIONS_PREFIX = "predictions/"
FEATURES_FILE_NAME = "features.csv"
# Batch Transform names each output object after its input object with ".out" appended
# (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html).
TRANSFORM_OUTPUT_SUFFIX = ".out"
PREDICTIONS_FILE_NAME = "predictions.csv"
# The scored rows' numbers and ids, which the predictions are joined to line by line.
ROWS_FILE_NAME = "rows.csv"
# A batch upload names the model version it wants as batch/v<N>/<file>, or with this object tag.
VERSION_TAG = "model-version"
MAX_NAME_CHARS = 100
NAME_DIGEST_CHARS = 12
UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def batch_job_prefix(execution_name: str) -> str:
    return f"{BATCH_JOBS_PREFIX}{execution_name}/"


def transform_input_prefix(execution_name: str) -> str:
    return f"{batch_job_prefix(execution_name)}input/"


def transform_output_prefix(execution_name: str) -> str:
    return f"{batch_job_prefix(execution_name)}output/"


def transform_output_key(execution_name: str) -> str:
    return f"{transform_output_prefix(execution_name)}{FEATURES_FILE_NAME}{TRANSFORM_OUTPUT_SUFFIX}"


def join_output_prefix(execution_name: str) -> str:
    """Where the join job (a file the validation job checked) leaves its summary."""
    return f"{batch_job_prefix(execution_name)}join/"


def batch_job_key(execution_name: str, name: str) -> str:
    """name is e.g. "rows.csv" (row numbers and ids of the scored rows) or "plan.json"."""
    return f"{batch_job_prefix(execution_name)}{name}"


def batch_name(key: str) -> str:
    """The upload's file name without its extensions, as one safe key segment: the folder its
    predictions go to. A name of other characters or too long keeps its safe characters plus a
    digest of the whole key, so two uploads never share a folder by accident of spelling."""
    last = key.rsplit("/", 1)[-1]
    stem = last
    for suffix in reversed(PurePosixPath(last).suffixes[-2:]):
        if suffix.lower() in {".csv", ".parquet", ".gz", ".txt"}:
            stem = stem[: -len(suffix)]
    safe = UNSAFE_NAME_CHARS.sub("_", stem)
    if safe == stem and 0 < len(stem) <= MAX_NAME_CHARS and stem.strip(".") != "":
        return stem
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:NAME_DIGEST_CHARS]
    return f"{safe[:MAX_NAME_CHARS]}~{digest}"


def predictions_key(key: str, execution_name: str) -> str:
    return f"{PREDICTIONS_PREFIX}{batch_name(key)}/{execution_name}/{PREDICTIONS_FILE_NAME}"
