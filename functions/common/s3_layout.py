"""Where the pipeline keeps things in its buckets. One place, so nothing disagrees."""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath
from urllib.parse import urlparse

INCOMING_PREFIX = "incoming/"
CURATED_PREFIX = "curated/"
QUARANTINE_PREFIX = "quarantine/"
REPORTS_PREFIX = "reports/"
CAPTURE_PREFIX = "capture/"
GROUND_TRUTH_PREFIX = "ground-truth/"
TRAINING_OUTPUT_PREFIX = "training-jobs/"
AUDIT_PREFIX = "audit/"
# Inputs and outputs of the SageMaker Processing job that validates uploads too large for Lambda.
VALIDATION_JOBS_PREFIX = "validation-jobs/"

SPLIT_FILE_NAME = "data.csv"
QUARANTINE_UPLOAD_FOLDER = "upload/"
QUARANTINED_ROWS_FILE_NAME = "rows.csv"
MAX_S3_KEY_BYTES = 1024
KEY_DIGEST_CHARS = 32
PREDICTIONS_FILE_NAME = "predictions.csv"


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an S3 URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def curated_prefix(dataset_version: str) -> str:
    return f"{CURATED_PREFIX}{dataset_version}/"


def curated_split_key(dataset_version: str, split: str) -> str:
    return f"{curated_prefix(dataset_version)}{split}/{SPLIT_FILE_NAME}"


def curated_manifest_key(dataset_version: str) -> str:
    return f"{curated_prefix(dataset_version)}manifest.json"


def rows_fingerprint_key(fingerprint: str) -> str:
    """Claimed by the first dataset version with these rows (functions/validate_data/fingerprint.py)."""
    return f"{CURATED_PREFIX}rows-fingerprints/{fingerprint}.json"


def curated_profile_key(dataset_version: str) -> str:
    return f"{curated_prefix(dataset_version)}profile.json"


def reference_manifest_key(execution_name: str) -> str:
    """The SageMaker manifest of the reference holdout an execution's training job scores."""
    return f"{CURATED_PREFIX}reference-holdouts/{execution_name}.manifest"


def quarantine_prefix(execution_name: str) -> str:
    return f"{QUARANTINE_PREFIX}{execution_name}/"


def quarantine_upload_key(execution_name: str, upload_key: str) -> str:
    """Where the copy of a rejected upload goes: under upload/, so no upload name (not even
    "reason.json") can take the key of the reason document beside it. A last segment that is
    empty, "." or "..", or too long for the key to stay within S3's 1,024 bytes, is replaced by
    a digest of the whole key (keeping a short extension)."""
    prefix = f"{quarantine_prefix(execution_name)}{QUARANTINE_UPLOAD_FOLDER}"
    name = upload_key.rsplit("/", 1)[-1]
    if name not in {"", ".", ".."} and len((prefix + name).encode("utf-8")) <= MAX_S3_KEY_BYTES:
        return prefix + name
    digest = hashlib.sha256(upload_key.encode("utf-8")).hexdigest()[:KEY_DIGEST_CHARS]
    suffix = "".join(PurePosixPath(name).suffixes[-2:])
    if not re.fullmatch(r"(\.[A-Za-z0-9]{1,10}){0,2}", suffix):
        suffix = ""
    return f"{prefix}{digest}{suffix}"


def quarantine_rows_key(execution_name: str) -> str:
    """The rows of an accepted upload that failed a check within its tolerance, with their reasons."""
    return f"{quarantine_prefix(execution_name)}{QUARANTINED_ROWS_FILE_NAME}"


def report_key(execution_name: str, report: str) -> str:
    """report is e.g. "validation.json", "validation.html", "evaluation.json"."""
    return f"{REPORTS_PREFIX}{execution_name}/{report}"


def validation_job_prefix(execution_name: str) -> str:
    return f"{VALIDATION_JOBS_PREFIX}{execution_name}/"


VALIDATION_JOB_SOURCE = "source/upload"


def validation_job_key(execution_name: str, name: str) -> str:
    """name is e.g. "plan.json", "source.manifest", "output/outcome.json", "output/splits/train.csv"."""
    return f"{validation_job_prefix(execution_name)}{name}"
