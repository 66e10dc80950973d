"""The documents the validation job (a SageMaker Processing job, processing_job.py) exchanges with
the "plan" and "conclude" modes of the Lambda function, all under
s3_layout.validation_job_prefix(<execution>):

plan.json, written by "plan", read by the job and by "conclude":

    {"format_version": 1, "source_uri": <the upload>, "file_name": <its name>,
     "input_file_name": <the name of the job's copy of the upload in its input folder>,
     "execution_arn": ..., "execution_name": ...,
     "purpose": "training" | "scoring",   # scoring: a file uploaded under batch/, no target
     "baseline": {"model_package_arn", "profile_uri", "profile", "note"}}  # storage.Baseline

source/upload, written by "plan": a copy of the version of the upload the event names.

source.manifest, written by "plan": a SageMaker manifest naming that one copy, so the job
downloads exactly those bytes.

output/outcome.json, written by the job, read by "conclude" (a ValidationOutcome):

    {"format_version": 1, "dataset_version": <sha256 of the uploaded bytes>,
     "execution_name": <execution that planned the job>, "source_bytes": <size of the upload>,
     "outcome": {<the ValidationOutcome's fields; "drift" as DriftComparison.to_dict();
                  "split_files": {split: path relative to output/}>}}

output/splits/<split>.csv, written by the job when the data is accepted, and
output/splits/quarantined.csv when some rows failed a check within their column's tolerance.
For a file to score, output/splits/ holds features.csv and rows.csv instead of the splits
(scoring_rows.py), and quarantined.csv as above.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from functions.common import s3_layout
from functions.common.contracts import ChampionReference, CheckFinding
from functions.common.drift_profile import DriftComparison, FeatureDrift
from functions.common.errors import ValidationJobOutputError
from functions.validate_data.storage import Baseline
from functions.validate_data.validation import Purpose, ValidationOutcome

PLAN_FORMAT_VERSION = 1
OUTCOME_FORMAT_VERSION = 1
PLAN_FILE_NAME = "plan.json"
SOURCE_MANIFEST_FILE_NAME = "source.manifest"
OUTPUT_FOLDER = "output/"
OUTCOME_FILE_NAME = "outcome.json"
SPLITS_FOLDER = "splits"


def plan_document(
    *,
    source_uri: str,
    file_name: str,
    input_file_name: str,
    execution_arn: str,
    execution_name: str,
    baseline: Baseline,
    purpose: Purpose = "training",
) -> dict[str, Any]:
    return {
        "format_version": PLAN_FORMAT_VERSION,
        "purpose": purpose,
        "source_uri": source_uri,
        "file_name": file_name,
        "input_file_name": input_file_name,
        "execution_arn": execution_arn,
        "execution_name": execution_name,
        "baseline": {
            "model_package_arn": baseline.model_package_arn,
            "profile_uri": baseline.profile_uri,
            "profile": baseline.profile,
            "note": baseline.note,
        },
        "champion": baseline.champion.model_dump(mode="json") if baseline.champion is not None else None,
    }


def baseline_from_plan(plan: dict[str, Any]) -> Baseline:
    baseline = plan.get("baseline") or {}
    return Baseline(
        model_package_arn=baseline.get("model_package_arn"),
        profile_uri=baseline.get("profile_uri"),
        profile=baseline.get("profile"),
        note=baseline.get("note") or "drift not checked",
        champion=ChampionReference.model_validate(plan["champion"]) if plan.get("champion") else None,
    )


def source_manifest(source_uri: str) -> list[Any]:
    """A SageMaker S3 manifest: the common prefix, then each object's key relative to it."""
    bucket, key = s3_layout.split_uri(source_uri)
    folder, _, name = key.rpartition("/")
    return [{"prefix": s3_layout.s3_uri(bucket, f"{folder}/" if folder else "")}, name]


def outcome_to_document(
    outcome: ValidationOutcome, *, dataset_version: str, execution_name: str, source_bytes: int, output_dir: Path
) -> dict[str, Any]:
    return {
        "format_version": OUTCOME_FORMAT_VERSION,
        "dataset_version": dataset_version,
        "execution_name": execution_name,
        "source_bytes": source_bytes,
        "outcome": {
            "accepted": outcome.accepted,
            "rows": outcome.rows,
            "file_format": outcome.file_format,
            "columns": outcome.columns,
            "errors": [finding.model_dump(mode="json") for finding in outcome.errors],
            "warnings": [finding.model_dump(mode="json") for finding in outcome.warnings],
            "column_summaries": outcome.column_summaries,
            "class_counts": outcome.class_counts,
            "duplicate_rows": outcome.duplicate_rows,
            "profile": outcome.profile,
            "drift": outcome.drift.to_dict() if outcome.drift is not None else None,
            "baseline_used": outcome.baseline_used,
            "split_rows": outcome.split_rows,
            "quarantined_rows": outcome.quarantined_rows,
            "split_files": {
                name: path.relative_to(output_dir).as_posix() for name, path in outcome.split_files.items()
            },
        },
    }


def dumps(document: dict[str, Any]) -> str:
    # The encoding the reports use, so a value reads back as the Lambda route would write it.
    return json.dumps(document, indent=2, default=str)


def outcome_from_document(document: dict[str, Any]) -> tuple[ValidationOutcome, str]:
    """The ValidationOutcome (its `split_files` relative to output/) and the dataset version."""
    if document.get("format_version") != OUTCOME_FORMAT_VERSION:
        raise ValidationJobOutputError(
            f"outcome format {document.get('format_version')!r} is not {OUTCOME_FORMAT_VERSION}"
        )
    try:
        fields = document["outcome"]
        drift = fields.get("drift")
        outcome = ValidationOutcome(
            accepted=bool(fields["accepted"]),
            rows=int(fields["rows"]),
            file_format=fields.get("file_format"),
            columns=list(fields.get("columns") or []),
            errors=[CheckFinding.model_validate(finding) for finding in fields.get("errors") or []],
            warnings=[CheckFinding.model_validate(finding) for finding in fields.get("warnings") or []],
            column_summaries=fields.get("column_summaries") or {},
            class_counts=fields.get("class_counts") or {},
            duplicate_rows=int(fields.get("duplicate_rows") or 0),
            profile=fields.get("profile"),
            drift=None
            if drift is None
            else DriftComparison(
                features=[FeatureDrift(**feature) for feature in drift.get("features") or []],
                skipped=dict(drift.get("skipped") or {}),
            ),
            baseline_used=bool(fields.get("baseline_used")),
            split_rows={name: int(rows) for name, rows in (fields.get("split_rows") or {}).items()},
            split_files={name: Path(path) for name, path in (fields.get("split_files") or {}).items()},
            quarantined_rows=int(fields.get("quarantined_rows") or 0),
        )
        return outcome, str(document["dataset_version"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValidationJobOutputError(f"outcome.json cannot be read ({type(error).__name__}: {error})") from error
