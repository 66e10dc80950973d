"""The "Validate data" step: from an uploaded object to an accepted, rejected or duplicate outcome.

Order of writes, so that a retry or a concurrent duplicate never loses or double-trains data:
accepted data is uploaded (splits, profile) before the manifest, and the manifest is written
with If-None-Match so exactly one execution claims a dataset version. A retry of the
execution that claimed it gets its own result back; any other execution gets "duplicate".
Rejected data is copied to quarantine/<execution>/ with reason.json beside it; the original
object is never modified or deleted.

Uploads above validation.max_lambda_file_bytes take the validation job route: `plan_validation_job`
writes what the SageMaker Processing job needs (job_documents.py), the job runs `validate_file` on
the file, and `conclude_validation_job` reads its outcome and does everything after validation
exactly as `validate_upload` does (duplicate check, quarantine and reason, curated splits, reports).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable
# timezone.utc, not datetime.UTC (3.11+): the validation job imports this package under the
# SageMaker image's Python 3.10.
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from functions.common import s3_layout
from functions.common.config import PipelineConfig
from functions.common.contracts import (
    CheckFinding,
    DataChannels,
    ValidateDataRequest,
    ValidateDataResult,
    ValidationJobPlan,
    ValidationJobRequest,
)
from functions.common.errors import ValidationJobOutputError
from functions.common.version_in_service import serving_endpoint
from functions.validate_data.job_documents import (
    OUTCOME_FILE_NAME,
    OUTPUT_FOLDER,
    PLAN_FILE_NAME,
    SOURCE_MANIFEST_FILE_NAME,
    baseline_from_plan,
    outcome_from_document,
    plan_document,
    source_manifest,
)
from functions.validate_data.reader import handed_to_job_reason, parquet_codecs_unreadable_here
from functions.validate_data.report import REPORT_FORMAT_VERSION, render_html
from functions.validate_data.splitting import SPLIT_NAMES
from functions.validate_data import shards
from functions.validate_data.fingerprint import rows_fingerprint
from functions.validate_data.storage import Baseline, DataStore, SourceObjectMissingError, find_baseline, sha256_file
from functions.validate_data.validation import (
    QUARANTINED_ROWS,
    Purpose,
    ValidationOutcome,
    rejection_reason,
    validate_file,
)

MAX_TRAINING_JOB_NAME_CHARS = 63
MAX_PROCESSING_JOB_NAME_CHARS = 63
EXECUTION_DIGEST_CHARS = 12
MANIFEST_FORMAT_VERSION = 1
LOCAL_UPLOAD_FILE_NAME = "upload"
REASON_FILE_NAME = "reason.json"


def training_job_name(project: str, dataset_version: str, execution_name: str) -> str:
    raw = f"{project}-{dataset_version[:12]}-{execution_name[:8]}".lower()
    name = re.sub(r"[^a-z0-9-]", "-", raw)[:MAX_TRAINING_JOB_NAME_CHARS]
    return name.strip("-")


def validation_job_name(project: str, execution_arn: str, execution_name: str, step: str = "") -> str:
    """The same name for every attempt of an execution, so a redrive finds the job it started.
    `step` names another job of the validation job's image in the same execution ("join")."""
    digest = hashlib.sha256(execution_arn.encode("utf-8")).hexdigest()[:EXECUTION_DIGEST_CHARS]
    raw = f"{project}-validate-{step + '-' if step else ''}{execution_name[:8]}-{digest}".lower()
    name = re.sub(r"[^a-z0-9-]", "-", raw)[:MAX_PROCESSING_JOB_NAME_CHARS]
    return name.strip("-")


def validate_upload(
    request: ValidateDataRequest,
    config: PipelineConfig,
    *,
    s3: Any,
    sagemaker: Any,
    data_bucket: str,
    model_package_group: str,
    endpoint_name: str,
    work_root: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> ValidateDataResult:
    with tempfile.TemporaryDirectory(dir=work_root) as work:
        return _ValidationRun(
            request, config, s3, sagemaker, data_bucket, model_package_group, endpoint_name, Path(work), now
        ).run()


def plan_validation_job(
    request: ValidationJobRequest,
    config: PipelineConfig,
    *,
    s3: Any,
    sagemaker: Any,
    data_bucket: str,
    model_package_group: str,
    endpoint_name: str,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> ValidationJobPlan:
    """Write the job's plan.json and source.manifest; a missing upload is rejected here, as on the Lambda route."""
    run = _ValidationRun(request, config, s3, sagemaker, data_bucket, model_package_group, endpoint_name, Path("."), now)
    plan = validation_job_plan(config.project, data_bucket, request)
    try:
        run.store.object_size(request.bucket, request.key, request.version_id)
    except SourceObjectMissingError as error:
        return plan.model_copy(update={"result": run.source_missing(error)})
    stage_validation_job(run.store, request, source_uri=run.source_uri, file_name=run.file_name, baseline=run.find_baseline())
    return plan


def validation_job_plan(project: str, data_bucket: str, request: ValidateDataRequest) -> ValidationJobPlan:
    """The validation job's name and the S3 URIs of its inputs and output, for one execution."""
    name = request.execution_name
    return ValidationJobPlan(
        job_name=validation_job_name(project, request.execution_arn, name),
        plan_uri=s3_layout.s3_uri(data_bucket, s3_layout.validation_job_key(name, PLAN_FILE_NAME)),
        source_manifest_uri=s3_layout.s3_uri(data_bucket, s3_layout.validation_job_key(name, SOURCE_MANIFEST_FILE_NAME)),
        output_uri=s3_layout.s3_uri(data_bucket, s3_layout.validation_job_key(name, OUTPUT_FOLDER)),
    )


def read_validation_job_output(store: DataStore, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plan execution `name` staged and the outcome document its validation job wrote."""
    plan = store.read_json(s3_layout.validation_job_key(name, PLAN_FILE_NAME))
    document = store.read_json(s3_layout.validation_job_key(name, OUTPUT_FOLDER + OUTCOME_FILE_NAME))
    if plan is None or document is None:
        missing = PLAN_FILE_NAME if plan is None else OUTPUT_FOLDER + OUTCOME_FILE_NAME
        raise ValidationJobOutputError(f"{s3_layout.validation_job_key(name, missing)} does not exist")
    if document.get("execution_name") != name:
        raise ValidationJobOutputError(f"outcome.json under {name} belongs to {document.get('execution_name')}")
    return plan, document


def stage_validation_job(
    store: DataStore,
    request: ValidateDataRequest,
    *,
    source_uri: str,
    file_name: str,
    baseline: Baseline,
    purpose: Purpose = "training",
) -> None:
    """Put the validation job's inputs in place: a copy of the upload, its manifest and plan.json."""
    name = request.execution_name
    # The job reads a copy of the version the event names, under a name any file system takes: a
    # manifest cannot name a version (an overwrite during the execution would change the bytes),
    # and the job's input file is named after the key's last segment, which may be ".." or longer
    # than a file name may be (S3 keys run to 1,024 bytes).
    job_source_uri = store.copy_version(
        request.bucket, request.key, request.version_id, s3_layout.validation_job_key(name, s3_layout.VALIDATION_JOB_SOURCE)
    )
    document = plan_document(
        source_uri=source_uri,
        file_name=file_name,
        input_file_name=Path(s3_layout.VALIDATION_JOB_SOURCE).name,
        execution_arn=request.execution_arn,
        execution_name=name,
        baseline=baseline,
        purpose=purpose,
    )
    store.put_json(s3_layout.validation_job_key(name, PLAN_FILE_NAME), document)
    # A manifest names exactly the one object; an S3 prefix would also match "<key>.gz" and the like.
    manifest = source_manifest(job_source_uri)
    store.put_text(s3_layout.validation_job_key(name, SOURCE_MANIFEST_FILE_NAME), json.dumps(manifest), "application/json")


def conclude_validation_job(
    request: ValidationJobRequest,
    config: PipelineConfig,
    *,
    s3: Any,
    data_bucket: str,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> ValidateDataResult:
    """From the completed job's outcome.json to the result `validate_upload` gives for the same file."""
    run = _ValidationRun(request, config, s3, None, data_bucket, "", "", Path("."), now)
    return run.conclude_job()


class _ValidationRun:
    def __init__(
        self,
        request: ValidateDataRequest,
        config: PipelineConfig,
        s3: Any,
        sagemaker: Any,
        data_bucket: str,
        model_package_group: str,
        endpoint_name: str,
        work: Path,
        now: Callable[[], datetime],
    ) -> None:
        self.request = request
        self.config = config
        self.store = DataStore(s3, data_bucket)
        self.s3 = s3
        self.sagemaker = sagemaker
        self.model_package_group = model_package_group
        self.endpoint_name = endpoint_name
        self.work = work
        self.now = now
        self.source_uri = s3_layout.s3_uri(request.bucket, request.key)
        self.file_name = Path(request.key).name or "upload"
        self.report_key = s3_layout.report_key(request.execution_name, "validation.json")
        self.report_html_key = s3_layout.report_key(request.execution_name, "validation.html")

    def find_baseline(self) -> Baseline:
        return find_baseline(
            self.sagemaker,
            self.s3,
            self.model_package_group,
            serving_endpoint(self.config.deployment.mode, self.endpoint_name),
            self.store.bucket,
            self.request.execution_name,
        )

    def source_missing(self, error: SourceObjectMissingError) -> ValidateDataResult:
        finding = CheckFinding(check="source_missing", message=str(error))
        return ValidateDataResult(
            outcome="data_rejected", reason=rejection_reason([finding]), source_uri=self.source_uri, errors=[finding]
        )

    def run(self) -> ValidateDataResult:
        request = self.request
        try:
            size_bytes = self.store.object_size(request.bucket, request.key, request.version_id)
        except SourceObjectMissingError as error:
            return self.source_missing(error)
        limit_bytes = self.config.validation.max_lambda_file_bytes
        if size_bytes > limit_bytes:
            finding = CheckFinding(
                check="file_too_large",
                message=f"file too large for the Lambda route ({size_bytes} bytes, at most {limit_bytes})",
            )
            return self._reject(ValidationOutcome(accepted=False, errors=[finding]), dataset_version=None)

        # The key's last segment may be "..", hold any character or pass the file system's name
        # limit (S3 keys run to 1,024 bytes); the format is read from the bytes and `file_name`.
        local_path = self.work / LOCAL_UPLOAD_FILE_NAME
        self.store.download(request.bucket, request.key, request.version_id, local_path)
        dataset_version = sha256_file(local_path)
        manifest = self.store.read_json(s3_layout.curated_manifest_key(dataset_version))
        if manifest is not None:
            return self._known_version(manifest, dataset_version)
        unreadable = parquet_codecs_unreadable_here(local_path)
        if unreadable:
            return ValidateDataResult(
                outcome="validation_job_needed",
                reason=handed_to_job_reason(unreadable),
                source_uri=self.source_uri,
                dataset_version=dataset_version,
            )

        baseline = self.find_baseline()
        outcome = validate_file(
            local_path, self.config, baseline.profile, work_dir=self.work / "splits", file_name=self.file_name
        )
        if not outcome.accepted:
            return self._reject(outcome, dataset_version, baseline)

        def upload_split(split: str, key: str) -> None:
            self.store.upload_file(outcome.split_files[split], key, "text/csv")

        fingerprint = rows_fingerprint(
            [outcome.split_files[split] for split in SPLIT_NAMES], fingerprint_columns(self.config)
        )
        return self._accept(outcome, dataset_version, baseline, upload_split, fingerprint)

    def conclude_job(self) -> ValidateDataResult:
        name = self.request.execution_name
        plan, document = read_validation_job_output(self.store, name)
        outcome, dataset_version = outcome_from_document(document)
        manifest = self.store.read_json(s3_layout.curated_manifest_key(dataset_version))
        if manifest is not None:
            return self._known_version(manifest, dataset_version)
        baseline = baseline_from_plan(plan)
        if not outcome.accepted:
            return self._reject(outcome, dataset_version, baseline)
        output_prefix = s3_layout.validation_job_key(name, OUTPUT_FOLDER)

        def copy_split(split: str, key: str) -> None:
            self.store.copy(output_prefix + outcome.split_files[split].as_posix(), key, "text/csv")

        fingerprint = document.get("rows_fingerprint")
        if not isinstance(fingerprint, str):
            raise ValidationJobOutputError("outcome.json has no rows_fingerprint")
        return self._accept(outcome, dataset_version, baseline, copy_split, fingerprint)

    def _known_version(self, manifest: dict[str, Any], dataset_version: str) -> ValidateDataResult:
        if manifest.get("execution_arn") == self.request.execution_arn and manifest.get("result"):
            return ValidateDataResult.model_validate(manifest["result"])
        earlier = manifest.get("source_uri", "an earlier upload")
        when = manifest.get("created", "earlier")
        execution = manifest.get("execution_arn", "an earlier execution")
        return ValidateDataResult(
            outcome="duplicate",
            reason=(
                f"These bytes were already accepted as dataset version {dataset_version} "
                f"(from {earlier} at {when} by {execution}); not training on them again."
            ),
            source_uri=self.source_uri,
            dataset_version=dataset_version,
            rows=manifest.get("rows"),
        )

    def _reject(
        self, outcome: ValidationOutcome, dataset_version: str | None, baseline: Baseline | None = None
    ) -> ValidateDataResult:
        request = self.request
        reason = outcome.reason or rejection_reason(outcome.errors)
        quarantine_uri = self.store.quarantine(request.bucket, request.key, request.version_id, request.execution_name)
        self.store.put_json(
            s3_layout.quarantine_prefix(request.execution_name) + REASON_FILE_NAME,
            {
                "source_uri": self.source_uri,
                "quarantine_uri": quarantine_uri,
                "dataset_version": dataset_version,
                "execution_arn": request.execution_arn,
                "created": self.now().isoformat(),
                "reason": reason,
                "errors": [finding.model_dump(mode="json") for finding in outcome.errors],
            },
        )
        result = ValidateDataResult(
            outcome="data_rejected",
            reason=reason,
            source_uri=self.source_uri,
            dataset_version=dataset_version,
            rows=outcome.rows or None,
            quarantine_uri=quarantine_uri,
            errors=outcome.errors,
            warnings=outcome.warnings,
        )
        return self._write_reports(result, outcome, baseline)

    def _accept(
        self,
        outcome: ValidationOutcome,
        dataset_version: str,
        baseline: Baseline,
        publish_split: Callable[[str, str], None],
        fingerprint: str,
    ) -> ValidateDataResult:
        request = self.request
        same_rows = self.store.read_json(s3_layout.rows_fingerprint_key(fingerprint))
        if same_rows is not None and same_rows.get("execution_arn") != request.execution_arn:
            return self._same_rows(same_rows, dataset_version)
        channels = {}
        train_parts = shards.part_names(outcome.split_files)
        for name in SPLIT_NAMES:
            key = s3_layout.curated_split_key(dataset_version, name)
            if name == shards.TRAIN_SPLIT and train_parts:
                # A distributed training job's instances each read their share of the parts.
                for part in train_parts:
                    publish_split(part, shards.part_key(dataset_version, part))
            else:
                publish_split(name, key)
            channels[name] = s3_layout.s3_uri(self.store.bucket, key.rsplit("/", 1)[0] + "/")
        quarantined_rows_uri = None
        if outcome.quarantined_rows:
            rows_key = s3_layout.quarantine_rows_key(request.execution_name)
            publish_split(QUARANTINED_ROWS, rows_key)
            quarantined_rows_uri = s3_layout.s3_uri(self.store.bucket, rows_key)
            self.store.put_json(
                s3_layout.quarantine_prefix(request.execution_name) + REASON_FILE_NAME,
                {
                    "source_uri": self.source_uri,
                    "quarantined_rows_uri": quarantined_rows_uri,
                    "dataset_version": dataset_version,
                    "execution_arn": request.execution_arn,
                    "created": self.now().isoformat(),
                    "reason": (
                        f"{outcome.quarantined_rows} of {outcome.rows} rows failed a check within their column's "
                        "tolerance and were held back; the rest of the upload was accepted."
                    ),
                    "rows": outcome.rows,
                    "quarantined_rows": outcome.quarantined_rows,
                    "findings": [finding.model_dump(mode="json") for finding in outcome.warnings],
                },
            )
        profile_uri = self.store.put_json(s3_layout.curated_profile_key(dataset_version), outcome.profile or {})
        result = ValidateDataResult(
            outcome="accepted",
            source_uri=self.source_uri,
            dataset_version=dataset_version,
            rows=outcome.rows,
            quarantined_rows=outcome.quarantined_rows,
            quarantined_rows_uri=quarantined_rows_uri,
            channels=DataChannels(**channels),
            profile_uri=profile_uri,
            report_uri=s3_layout.s3_uri(self.store.bucket, self.report_key),
            report_html_uri=s3_layout.s3_uri(self.store.bucket, self.report_html_key),
            warnings=outcome.warnings,
            training_job_name=training_job_name(self.config.project, dataset_version, request.execution_name),
            rows_fingerprint=fingerprint,
            champion=baseline.champion,
        )
        manifest = {
            "format_version": MANIFEST_FORMAT_VERSION,
            "dataset_version": dataset_version,
            "source_uri": self.source_uri,
            "source_version_id": request.version_id,
            "sha256": dataset_version,
            "rows": outcome.rows,
            "quarantined_rows": outcome.quarantined_rows,
            "split_rows": outcome.split_rows,
            "split_seed": self.config.split.seed,
            "columns": [column.name for column in self.config.dataset.columns],
            "target": self.config.dataset.target,
            "profile_uri": profile_uri,
            "created": self.now().isoformat(),
            "execution_arn": request.execution_arn,
            "result": result.model_dump(mode="json"),
        }
        existing = self.store.claim_json(s3_layout.curated_manifest_key(dataset_version), manifest)
        if existing is not None:
            return self._known_version(existing, dataset_version)
        claimed = self.store.claim_json(
            s3_layout.rows_fingerprint_key(fingerprint),
            {
                "rows_fingerprint": fingerprint,
                "dataset_version": dataset_version,
                "source_uri": self.source_uri,
                "created": manifest["created"],
                "execution_arn": request.execution_arn,
            },
        )
        if claimed is not None and claimed.get("execution_arn") != request.execution_arn:
            return self._same_rows(claimed, dataset_version)
        return self._write_reports(result, outcome, baseline)

    def _same_rows(self, earlier: dict[str, Any], dataset_version: str) -> ValidateDataResult:
        return ValidateDataResult(
            outcome="duplicate",
            reason=(
                f"These rows were already accepted as dataset version {earlier.get('dataset_version')} "
                f"(from {earlier.get('source_uri', 'an earlier upload')} at {earlier.get('created', 'earlier')}), "
                "in another order, encoding, compression or format; not training on them again."
            ),
            source_uri=self.source_uri,
            dataset_version=dataset_version,
            rows_fingerprint=earlier.get("rows_fingerprint"),
        )

    def _write_reports(
        self, result: ValidateDataResult, outcome: ValidationOutcome, baseline: Baseline | None
    ) -> ValidateDataResult:
        report = build_report(result, outcome, baseline, self.request, self.now())
        report_uri = self.store.put_json(self.report_key, report)
        html_uri = self.store.put_text(self.report_html_key, render_html(report), "text/html; charset=utf-8")
        return result.model_copy(update={"report_uri": report_uri, "report_html_uri": html_uri})


def fingerprint_columns(config: PipelineConfig) -> list[tuple[str, str]]:
    return [(column.name, column.type) for column in config.dataset.columns]


def build_report(
    result: ValidateDataResult,
    outcome: ValidationOutcome,
    baseline: Baseline | None,
    request: ValidateDataRequest,
    created: datetime,
) -> dict[str, Any]:
    if baseline is None:
        drift_note = "drift not checked: the data was rejected before profiling"
    elif outcome.drift is None and baseline.profile is not None:
        drift_note = f"{baseline.note}; drift not computed because the file could not be profiled"
    else:
        drift_note = baseline.note
    drift: dict[str, Any] = {
        "note": drift_note,
        "baseline_model_package_arn": baseline.model_package_arn if baseline else None,
        "baseline_profile_uri": baseline.profile_uri if baseline else None,
    }
    if outcome.drift is not None:
        drift.update(outcome.drift.to_dict())
    return {
        "format_version": REPORT_FORMAT_VERSION,
        "outcome": result.outcome,
        "reason": result.reason,
        "source_uri": result.source_uri,
        "dataset_version": result.dataset_version,
        "execution_arn": request.execution_arn,
        "execution_name": request.execution_name,
        "created": created.isoformat(),
        "rows": outcome.rows,
        "file_format": outcome.file_format,
        "quarantine_uri": result.quarantine_uri,
        "quarantined_rows": outcome.quarantined_rows,
        "quarantined_rows_uri": result.quarantined_rows_uri,
        "splits": outcome.split_rows,
        "duplicate_rows": outcome.duplicate_rows,
        "class_counts": outcome.class_counts,
        "errors": [finding.model_dump(mode="json") for finding in result.errors],
        "warnings": [finding.model_dump(mode="json") for finding in result.warnings],
        "columns": outcome.column_summaries,
        "drift": drift,
    }
