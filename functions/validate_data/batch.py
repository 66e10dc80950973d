"""Batch scoring of a file uploaded under batch/, around the SageMaker Batch Transform job the
state machine runs: `plan_batch` validates the file with the training upload's reader and checks
(validation.py, purpose "scoring": no target) and writes the rows to score where the job reads
them (or, for a file above validation.max_lambda_file_bytes, stages the validation job that does,
and `conclude_batch_validation` takes its outcome); `conclude_batch` joins the transform job's
output to the rows, streaming, writes the predictions and deletes the execution's model;
`record_batch_failure` records a job that failed. Each ends with a report (JSON and HTML) and an
audit record. Receives its clients as arguments.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable
# timezone.utc, not datetime.UTC: this package is also imported under the image's Python 3.10.
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from functions.common import batch_layout, s3_layout
from functions.common.batch_contracts import BatchJoinJob, BatchModel, BatchPlan, BatchRequest, BatchResult
from functions.common.config import PipelineConfig
from functions.common.contracts import CheckFinding
from functions.validate_data.batch_audit import batch_audit_record, write_batch_audit
from functions.validate_data.batch_model import BatchModelRequestError, NoBatchModelError, choose_batch_model
from functions.validate_data.batch_report import render_batch_html
from functions.validate_data.job_documents import (
    OUTPUT_FOLDER,
    baseline_from_plan,
    outcome_from_document,
)
from functions.validate_data.prediction_join import (
    JOIN_PLAN_FILE_NAME,
    JOIN_SUMMARY_FILE_NAME,
    BatchOutputError,
    LineStream,
    PredictionJoin,
)
from functions.validate_data.reader import handed_to_job_reason, parquet_codecs_unreadable_here
from functions.validate_data.scoring_rows import FEATURES, QUARANTINED, ROWS, scoring_config
from functions.validate_data.service import (
    read_validation_job_output,
    stage_validation_job,
    validation_job_name,
    validation_job_plan,
)
from functions.validate_data.storage import Baseline, DataStore, SourceObjectMissingError
from functions.validate_data.validation import ValidationOutcome, rejection_reason, validate_file

REPORT_FORMAT_VERSION = 1
LOCAL_UPLOAD_FILE_NAME = "upload"
PLAN_FILE_NAME = "plan.json"
REASON_FILE_NAME = "reason.json"
TRANSFORM_JOB_NAME_MAX_CHARS = 63


def plan_batch(
    request: BatchRequest,
    config: PipelineConfig,
    *,
    s3: Any,
    sagemaker: Any,
    data_bucket: str,
    model_package_group: str,
    endpoint_name: str | None,
    work_root: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> BatchPlan:
    with tempfile.TemporaryDirectory(dir=work_root) as work:
        return _BatchRun(request, config, s3, data_bucket, now).plan(
            sagemaker, model_package_group, endpoint_name, Path(work)
        )


def conclude_batch_validation(
    request: BatchRequest,
    config: PipelineConfig,
    *,
    s3: Any,
    data_bucket: str,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> BatchPlan:
    return _BatchRun(request, config, s3, data_bucket, now).conclude_validation()


def conclude_batch(
    request: BatchRequest,
    config: PipelineConfig,
    *,
    s3: Any,
    sagemaker: Any,
    data_bucket: str,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> BatchResult:
    return _BatchRun(request, config, s3, data_bucket, now).conclude(sagemaker)


def record_batch_failure(
    request: BatchRequest,
    config: PipelineConfig,
    *,
    s3: Any,
    sagemaker: Any,
    data_bucket: str,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> BatchResult:
    return _BatchRun(request, config, s3, data_bucket, now).failed(sagemaker)


def transform_job_name(project: str, execution_name: str, model_version: int) -> str:
    raw = f"{project}-batch-v{model_version}-{execution_name}"
    safe = "".join(char if char.isalnum() or char == "-" else "-" for char in raw)
    return safe[:TRANSFORM_JOB_NAME_MAX_CHARS].strip("-")


def object_tags(s3: Any, bucket: str, key: str, version_id: str | None) -> dict[str, str]:
    arguments = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    return {tag["Key"]: tag["Value"] for tag in s3.get_object_tagging(**arguments).get("TagSet", [])}


class _BatchRun:
    def __init__(
        self, request: BatchRequest, config: PipelineConfig, s3: Any, data_bucket: str, now: Callable[[], datetime]
    ) -> None:
        self.request = request
        self.config = config
        self.s3 = s3
        self.store = DataStore(s3, data_bucket)
        self.now = now
        self.source_uri = s3_layout.s3_uri(request.bucket, request.key)
        self.file_name = Path(request.key).name or "upload"
        self.name = request.execution_name
        self.report_key = s3_layout.report_key(self.name, "batch.json")
        self.report_html_key = s3_layout.report_key(self.name, "batch.html")

    # --- before the transform job --------------------------------------------------------

    def plan(self, sagemaker: Any, group: str, endpoint_name: str | None, work: Path) -> BatchPlan:
        request = self.request
        try:
            size_bytes = self.store.object_size(request.bucket, request.key, request.version_id)
        except SourceObjectMissingError as error:
            return self._reject([CheckFinding(check="source_missing", message=str(error))], quarantine=False)
        try:
            model = choose_batch_model(
                sagemaker,
                project=self.config.project,
                model_package_group=group,
                endpoint_name=endpoint_name,
                key=request.key,
                tags=object_tags(self.s3, request.bucket, request.key, request.version_id),
                execution_arn=request.execution_arn,
            )
        except BatchModelRequestError as error:
            return self._reject([CheckFinding(check="model_version", message=str(error))])
        except NoBatchModelError as error:
            return self._no_model(str(error))
        baseline, drift_note = self._baseline(model)
        limit_bytes = self.config.validation.max_lambda_file_bytes
        if size_bytes > limit_bytes:
            return self._plan_validation_job(
                model,
                baseline,
                drift_note,
                f"{size_bytes} bytes, above validation.max_lambda_file_bytes ({limit_bytes}): validated by a job",
            )
        local_path = work / LOCAL_UPLOAD_FILE_NAME
        self.store.download(request.bucket, request.key, request.version_id, local_path)
        unreadable = parquet_codecs_unreadable_here(local_path)
        if unreadable:
            return self._plan_validation_job(model, baseline, drift_note, handed_to_job_reason(unreadable))
        outcome = validate_file(
            local_path,
            scoring_config(self.config),
            baseline,
            work_dir=work / "rows",
            file_name=self.file_name,
            purpose="scoring",
        )
        if not outcome.accepted:
            return self._reject(outcome.errors, outcome=outcome, model=model, drift_note=drift_note)
        return self._accept(outcome, model, drift_note)

    def _baseline(self, model: BatchModel) -> tuple[dict[str, Any] | None, str]:
        if not model.profile_uri:
            return None, f"model version {model.model_version} records no training profile; drift not checked"
        try:
            bucket, key = s3_layout.split_uri(model.profile_uri)
            profile = json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except (ValueError, ClientError) as error:
            return None, f"the training profile {model.profile_uri} could not be read ({type(error).__name__}); drift not checked"
        return profile, f"compared with the training data of model version {model.model_version}"

    def _plan_validation_job(
        self, model: BatchModel, profile: dict[str, Any] | None, drift_note: str, reason: str
    ) -> BatchPlan:
        """A file above validation.max_lambda_file_bytes, or one the function cannot read, is
        validated by the SageMaker Processing job that validates large training uploads
        (processing_job.py), as a file to score."""
        baseline = Baseline(model.model_package_arn, model.profile_uri, profile, drift_note)
        stage_validation_job(
            self.store, self.request, source_uri=self.source_uri, file_name=self.file_name, baseline=baseline, purpose="scoring"
        )
        return BatchPlan(
            outcome="validate_in_job",
            reason=reason,
            source_uri=self.source_uri,
            model=model,
            validation_job=validation_job_plan(self.config.project, self.store.bucket, self.request),
        )

    def conclude_validation(self) -> BatchPlan:
        """The validation job's outcome, taken as `plan` takes its own validation's."""
        planned = BatchPlan.model_validate(self.request.plan or {})
        if planned.model is None:
            raise BatchOutputError("the batch plan names no model")
        job_plan, document = read_validation_job_output(self.store, self.name)
        outcome, _ = outcome_from_document(document)
        drift_note = baseline_from_plan(job_plan).note
        if not outcome.accepted:
            return self._reject(outcome.errors, outcome=outcome, model=planned.model, drift_note=drift_note)
        output_prefix = s3_layout.validation_job_key(self.name, OUTPUT_FOLDER)
        plan = self._accept(
            outcome,
            planned.model,
            drift_note,
            lambda part, key: self.store.copy(output_prefix + outcome.split_files[part].as_posix(), key, "text/csv"),
        )
        return plan.model_copy(update={"join_job": self._plan_join_job(planned.model)})

    def _plan_join_job(self, model: BatchModel) -> BatchJoinJob:
        name = self.name
        bucket = self.store.bucket
        plan_key = batch_layout.batch_job_key(name, JOIN_PLAN_FILE_NAME)
        self.store.put_json(
            plan_key,
            {"model_version": model.model_version, "regression": self.config.dataset.problem_type == "regression"},
        )
        predictions_key = batch_layout.predictions_key(self.request.key, name)
        return BatchJoinJob(
            job_name=validation_job_name(self.config.project, self.request.execution_arn, name, "join"),
            rows_uri=s3_layout.s3_uri(bucket, batch_layout.batch_job_key(name, batch_layout.ROWS_FILE_NAME)),
            plan_uri=s3_layout.s3_uri(bucket, plan_key),
            answers_uri=s3_layout.s3_uri(bucket, batch_layout.transform_output_prefix(name)),
            predictions_uri=s3_layout.s3_uri(bucket, predictions_key.rsplit("/", 1)[0] + "/"),
            summary_uri=s3_layout.s3_uri(bucket, batch_layout.join_output_prefix(name)),
        )

    def _accept(
        self,
        outcome: ValidationOutcome,
        model: BatchModel,
        drift_note: str,
        publish: Callable[[str, str], str] | None = None,
    ) -> BatchPlan:
        """`publish(part, key)` puts one of the validation's files (features, rows, quarantined)
        at `key` and returns its URI; by default it uploads the local file."""
        name = self.name
        files = outcome.split_files
        publish = publish or (lambda part, key: self.store.upload_file(files[part], key, "text/csv"))
        publish(FEATURES, batch_layout.transform_input_prefix(name) + batch_layout.FEATURES_FILE_NAME)
        publish(ROWS, batch_layout.batch_job_key(name, batch_layout.ROWS_FILE_NAME))
        quarantined_rows_uri = None
        if QUARANTINED in files:
            quarantined_rows_uri = publish(QUARANTINED, s3_layout.quarantine_rows_key(name))
        bucket = self.store.bucket
        plan = BatchPlan(
            outcome="accepted",
            source_uri=self.source_uri,
            rows=outcome.rows,
            quarantined_rows=outcome.quarantined_rows,
            quarantined_rows_uri=quarantined_rows_uri,
            warnings=outcome.warnings,
            model=model,
            transform_job_name=transform_job_name(self.config.project, name, model.model_version),
            input_uri=s3_layout.s3_uri(bucket, batch_layout.transform_input_prefix(name)),
            output_uri=s3_layout.s3_uri(bucket, batch_layout.transform_output_prefix(name)),
            predictions_uri=s3_layout.s3_uri(bucket, batch_layout.predictions_key(self.request.key, name)),
            report_uri=s3_layout.s3_uri(bucket, self.report_key),
            report_html_uri=s3_layout.s3_uri(bucket, self.report_html_key),
        )
        # What the report needs after the job: the validation's findings and the drift.
        self.store.put_json(
            batch_layout.batch_job_key(name, PLAN_FILE_NAME),
            {"validation": _validation_section(outcome, drift_note), "plan": plan.model_dump(mode="json")},
        )
        return plan

    def _reject(
        self,
        errors: list[CheckFinding],
        *,
        outcome: ValidationOutcome | None = None,
        model: BatchModel | None = None,
        drift_note: str = "drift not checked: the file was rejected before profiling",
        quarantine: bool = True,
    ) -> BatchPlan:
        request = self.request
        reason = rejection_reason(errors)
        quarantine_uri = None
        if quarantine:
            quarantine_uri = self.store.quarantine(request.bucket, request.key, request.version_id, self.name)
            self.store.put_json(
                s3_layout.quarantine_prefix(self.name) + REASON_FILE_NAME,
                {
                    "source_uri": self.source_uri,
                    "quarantine_uri": quarantine_uri,
                    "execution_arn": request.execution_arn,
                    "created": self.now().isoformat(),
                    "reason": reason,
                    "errors": [finding.model_dump(mode="json") for finding in errors],
                },
            )
        plan = BatchPlan(
            outcome="data_rejected",
            reason=reason,
            source_uri=self.source_uri,
            rows=outcome.rows if outcome else None,
            quarantine_uri=quarantine_uri,
            errors=errors,
            warnings=outcome.warnings if outcome else [],
            model=model,
        )
        validation = _validation_section(outcome, drift_note) if outcome else {"errors": [e.model_dump() for e in errors]}
        report = self._report("data_rejected", reason, model, validation, extra={"quarantine_uri": quarantine_uri})
        return plan.model_copy(update=self._write_report(report))

    def _no_model(self, reason: str) -> BatchPlan:
        report = self._report("failed", reason, None, {})
        plan = BatchPlan(outcome="failed", reason=reason, source_uri=self.source_uri)
        return plan.model_copy(update=self._write_report(report))

    # --- after the transform job ---------------------------------------------------------

    def conclude(self, sagemaker: Any) -> BatchResult:
        plan = BatchPlan.model_validate(self.request.plan or {})
        if plan.model is None:
            raise BatchOutputError("the batch plan names no model")
        name = self.name
        bucket = self.store.bucket
        predictions_key = batch_layout.predictions_key(self.request.key, name)
        summary = self._joined_summary(plan) if plan.join_job else self._join(plan.model, predictions_key)
        predictions_uri = s3_layout.s3_uri(bucket, predictions_key)
        saved = self.store.read_json(batch_layout.batch_job_key(name, PLAN_FILE_NAME)) or {}
        reason = (
            f"{summary['rows']} of {plan.rows} rows scored by model version {plan.model.model_version} "
            f"(chosen by {plan.model.chosen_by})"
            + (f"; {plan.quarantined_rows} held back in {plan.quarantined_rows_uri}" if plan.quarantined_rows else "")
        )
        report = self._report(
            "scored",
            reason,
            plan.model,
            saved.get("validation", {}),
            extra={
                "rows_scored": summary["rows"],
                "predictions_uri": predictions_uri,
                "transform_job_name": plan.transform_job_name,
                **({"join_job_name": plan.join_job.job_name} if plan.join_job else {}),
                "prediction_distribution": summary["distribution"],
                "classes": summary["classes"],
                "model_cleanup": delete_batch_model(sagemaker, plan.model.model_name),
            },
        )
        uris = self._write_report(report)
        return BatchResult(
            outcome="scored",
            reason=reason,
            source_uri=self.source_uri,
            model_version=plan.model.model_version,
            rows_scored=summary["rows"],
            predictions_uri=predictions_uri,
            **uris,
        )

    def _join(self, model: BatchModel, predictions_key: str) -> dict[str, Any]:
        """Join in the function, streamed both ways: one line of each input in memory at a time."""
        bucket = self.store.bucket
        join = PredictionJoin(model.model_version, self.config.dataset.problem_type == "regression")
        output = self.s3.get_object(Bucket=bucket, Key=batch_layout.transform_output_key(self.name))["Body"]
        rows = self.s3.get_object(Bucket=bucket, Key=batch_layout.batch_job_key(self.name, batch_layout.ROWS_FILE_NAME))["Body"]
        self.s3.upload_fileobj(
            LineStream(
                join.lines(
                    csv.reader(io.TextIOWrapper(rows, encoding="utf-8", newline="")),
                    io.TextIOWrapper(output, encoding="utf-8"),
                )
            ),
            bucket,
            predictions_key,
            ExtraArgs={"ContentType": "text/csv"},
        )
        return join.summary()

    def _joined_summary(self, plan: BatchPlan) -> dict[str, Any]:
        key = batch_layout.join_output_prefix(self.name) + JOIN_SUMMARY_FILE_NAME
        summary = self.store.read_json(key)
        if summary is None:
            raise BatchOutputError(f"the join job {plan.join_job.job_name} left no {key}")
        return summary

    def failed(self, sagemaker: Any) -> BatchResult:
        plan = BatchPlan.model_validate(self.request.plan or {})
        extra: dict[str, Any] = {}
        if plan.transform_job_name is not None and plan.model is not None:
            # The transform job has ended, whichever job failed.
            extra["model_cleanup"] = delete_batch_model(sagemaker, plan.model.model_name)
        if self.request.processing is None:
            job, status = f"transform job {plan.transform_job_name}", self.request.transform or {}
            extra["transform_job_name"] = plan.transform_job_name
        elif plan.join_job is not None and plan.transform_job_name is not None:
            job, status = f"join job {plan.join_job.job_name}", self.request.processing
            extra["join_job_name"] = plan.join_job.job_name
        else:
            job_name = plan.validation_job.job_name if plan.validation_job else "(unnamed)"
            job, status = f"validation job {job_name}", self.request.processing
            extra["validation_job_name"] = job_name
        reason = f"{job} {str(status.get('status', 'failed')).lower()}: {status.get('reason') or 'no reason given'}"
        saved = self.store.read_json(batch_layout.batch_job_key(self.name, PLAN_FILE_NAME)) or {}
        report = self._report("failed", reason, plan.model, saved.get("validation", {}), extra=extra)
        uris = self._write_report(report)
        return BatchResult(
            outcome="failed",
            reason=reason,
            source_uri=self.source_uri,
            model_version=plan.model.model_version if plan.model else None,
            **uris,
        )

    # --- records -------------------------------------------------------------------------

    def _report(
        self,
        outcome: str,
        reason: str,
        model: BatchModel | None,
        validation: dict[str, Any],
        *,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "format_version": REPORT_FORMAT_VERSION,
            "kind": "batch",
            "outcome": outcome,
            "reason": reason,
            "source_uri": self.source_uri,
            "execution_arn": self.request.execution_arn,
            "execution_name": self.name,
            "created": self.now().isoformat(),
            "model": model.model_dump(mode="json", exclude={"environment"}) if model else None,
            "validation": validation,
            **(extra or {}),
        }

    def _write_report(self, report: dict[str, Any]) -> dict[str, str]:
        report_uri = self.store.put_json(self.report_key, report)
        html_uri = self.store.put_text(self.report_html_key, render_batch_html(report), "text/html; charset=utf-8")
        record = batch_audit_record(report, now=self.now())
        write_batch_audit(self.s3, self.store.bucket, record, self.name, self.now())
        return {"report_uri": report_uri, "report_html_uri": html_uri}


def _validation_section(outcome: ValidationOutcome, drift_note: str) -> dict[str, Any]:
    drift: dict[str, Any] = {"note": drift_note}
    if outcome.drift is not None:
        drift.update(outcome.drift.to_dict())
    return {
        "rows": outcome.rows,
        "file_format": outcome.file_format,
        "quarantined_rows": outcome.quarantined_rows,
        "errors": [finding.model_dump(mode="json") for finding in outcome.errors],
        "warnings": [finding.model_dump(mode="json") for finding in outcome.warnings],
        "columns": outcome.column_summaries,
        "drift": drift,
    }


def delete_batch_model(sagemaker: Any, model_name: str) -> str:
    """Delete the execution's SageMaker model once its transform job has ended: each batch
    creates one, and SageMaker keeps models until they are deleted. A model that cannot be
    deleted does not change the batch's outcome; the report says so."""
    try:
        sagemaker.delete_model(ModelName=model_name)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        # DeleteModel answers a model that does not exist (a retried step) with the same
        # ValidationException as other refusals: ListModels says whether the model is gone.
        if code == "ValidationException" and not _model_listed(sagemaker, model_name):
            return f"model {model_name} was already deleted"
        return f"model {model_name} not deleted ({code}); delete it with aws sagemaker delete-model"
    return f"model {model_name} deleted"


def _model_listed(sagemaker: Any, model_name: str) -> bool:
    """Whether ListModels names `model_name`; True when it cannot be asked, so a model that may
    still exist is never reported as deleted."""
    try:
        pages = sagemaker.get_paginator("list_models").paginate(NameContains=model_name)
        return any(model["ModelName"] == model_name for page in pages for model in page.get("Models", []))
    except ClientError:
        return True


def run_batch_step(
    request: BatchRequest,
    config: PipelineConfig,
    *,
    s3: Any,
    sagemaker: Any,
    data_bucket: str,
    model_package_group: str,
    endpoint_name: str,
) -> BatchPlan | BatchResult:
    """One step of the state machine's batch branch, by the request's mode."""
    if request.mode == "batch_conclude":
        return conclude_batch(request, config, s3=s3, sagemaker=sagemaker, data_bucket=data_bucket)
    if request.mode == "batch_failed":
        return record_batch_failure(request, config, s3=s3, sagemaker=sagemaker, data_bucket=data_bucket)
    if request.mode == "batch_validation_concluded":
        return conclude_batch_validation(request, config, s3=s3, data_bucket=data_bucket)
    # Without an endpoint (batch_only), the newest approved version scores.
    serving_endpoint = endpoint_name if config.deployment.mode == "realtime" else None
    return plan_batch(
        request,
        config,
        s3=s3,
        sagemaker=sagemaker,
        data_bucket=data_bucket,
        model_package_group=model_package_group,
        endpoint_name=serving_endpoint,
    )
