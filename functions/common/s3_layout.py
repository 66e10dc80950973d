"""Where the pipeline keeps things in its buckets. One place, so nothing disagrees."""

from __future__ import annotations

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


def curated_profile_key(dataset_version: str) -> str:
    return f"{curated_prefix(dataset_version)}profile.json"


def quarantine_prefix(execution_name: str) -> str:
    return f"{QUARANTINE_PREFIX}{execution_name}/"


def report_key(execution_name: str, report: str) -> str:
    """report is e.g. "validation.json", "validation.html", "evaluation.json"."""
    return f"{REPORTS_PREFIX}{execution_name}/{report}"


def validation_job_prefix(execution_name: str) -> str:
    return f"{VALIDATION_JOBS_PREFIX}{execution_name}/"


def validation_job_key(execution_name: str, name: str) -> str:
    """name is e.g. "plan.json", "source.manifest", "output/outcome.json", "output/splits/train.csv"."""
    return f"{validation_job_prefix(execution_name)}{name}"
