"""Batch scoring of a file uploaded under batch/, around the SageMaker Batch Transform job the
state machine runs: `plan_batch` validates the file with the training upload's reader and checks
(validation.py, purpose "scoring": no target) and writes the rows to score where the job reads
them; `conclude_batch` joins the job's output to the rows and writes the predictions;
`record_batch_failure` records a job that failed. Each ends with a report (JSON and HTML) and an
audit record. Receives its clients as arguments.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections import Counter
from collections.abc import Callable
# timezone.utc, not datetime.UTC: this package is also imported under the image's Python 3.10.
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import ClientError

from functions.common import batch_layout, s3_layout
from functions.common.batch_contracts import BatchModel, BatchPlan, BatchRequest, BatchResult
from functions.common.config import PipelineConfig
from functions.common.contracts import CheckFinding
from functions.common.errors import PipelineError
from functions.validate_data.batch_audit import batch_audit_record, write_batch_audit
from functions.validate_data.batch_model import BatchModelRequestError, NoBatchModelError, choose_batch_model
from functions.validate_data.batch_report import render_batch_html
from functions.validate_data.scoring_rows import FEATURES, QUARANTINED, ROWS
from functions.validate_data.storage import DataStore, SourceObjectMissingError
from functions.validate_data.validation import ValidationOutcome, rejection_reason, validate_file

REPORT_FORMAT_VERSION = 1
LOCAL_UPLOAD_FILE_NAME = "upload"
PLAN_FILE_NAME = "plan.json"
ROWS_FILE_NAME = "rows.csv"
REASON_FILE_NAME = "reason.json"
TRANSFORM_JOB_NAME_MAX_CHARS = 63
MODEL_VERSION_COLUMN = "model_version"
PREDICTION_COLUMN = "prediction"
PROBABILITY_COLUMN_PREFIX = "probability_"
REGRESSION_QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


class BatchOutputError(PipelineError):
    """The transform job completed but its output does not hold one prediction per scored row."""


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


def conclude_batch(
    request: BatchRequest,
    config: PipelineConfig,
    *,
    s3: Any,
    data_bucket: str,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> BatchResult:
    return _BatchRun(request, config, s3, data_bucket, now).conclude()


def record_batch_failure(
    request: BatchRequest,
    config: PipelineConfig,
    *,
    s3: Any,
    data_bucket: str,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> BatchResult:
    return _BatchRun(request, config, s3, data_bucket, now).failed()


def scoring_config(config: PipelineConfig) -> PipelineConfig:
    """The config a file to score is checked with: with batch.drift "report", drift beyond a
    column's fail level is a warning in the report, not a rejection."""
    if config.batch.drift == "block":
        return config
    columns = [
        column if column.drift == "ignore" else column.model_copy(update={"drift": "warn"})
        for column in config.dataset.columns
    ]
    return config.model_copy(update={"dataset": config.dataset.model_copy(update={"columns": columns})})


def transform_job_name(project: str, execution_name: str, model_version: int) -> str:
    raw = f"{project}-batch-v{model_version}-{execution_name}"
    safe = "".join(char if char.isalnum() or char == "-" else "-" for char in raw)
    return safe[:TRANSFORM_JOB_NAME_MAX_CHARS].strip("-")


def object_tags(s3: Any, bucket: str, key: str, version_id: str | None) -> dict[str, str]:
    arguments = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    return {tag["Key"]: tag["Value"] for tag in s3.get_object_tagging(**arguments).get("TagSet", [])}


def parse_transform_output(text: str) -> tuple[list[Any], list[list[float]] | None, list[str] | None]:
    """Batch Transform with AssembleWith Line writes each mini-batch's answer followed by a line
    end; the serving code answers JSON on one line, so each line is one mini-batch in order."""
    predictions: list[Any] = []
    probabilities: list[list[float]] | None = None
    classes: list[str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            answer = json.loads(line)
        except ValueError as error:
            raise BatchOutputError(f"line {number} of the transform output is not JSON: {error}") from error
        predictions.extend(answer["predictions"])
        if "probabilities" in answer:
            probabilities = (probabilities or []) + answer["probabilities"]
            classes = answer.get("classes", classes)
    return predictions, probabilities, classes


def prediction_distribution(predictions: list[Any], regression: bool) -> dict[str, Any]:
    if not predictions:
        return {}
    if regression:
        values = np.asarray(predictions, dtype=float)
        return {
            "mean": float(values.mean()),
            "quantiles": {f"{q:g}": float(np.quantile(values, q)) for q in REGRESSION_QUANTILES},
        }
    counts = Counter(str(value) for value in predictions)
    total = len(predictions)
    return {"counts": dict(sorted(counts.items())), "fractions": {k: v / total for k, v in sorted(counts.items())}}


def predictions_csv(
    rows_csv: str, predictions: list[Any], probabilities: list[list[float]] | None, classes: list[str] | None, version: int
) -> str:
    """The rows' numbers and ids, then the prediction, a probability per class and the version."""
    reader = csv.reader(io.StringIO(rows_csv))
    header = next(reader)
    rows = list(reader)
    if len(rows) != len(predictions):
        raise BatchOutputError(f"the transform output holds {len(predictions)} predictions for {len(rows)} scored rows")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    probability_columns = [f"{PROBABILITY_COLUMN_PREFIX}{label}" for label in classes or []]
    writer.writerow([*header, PREDICTION_COLUMN, *probability_columns, MODEL_VERSION_COLUMN])
    for position, row in enumerate(rows):
        extra = [repr(float(p)) for p in probabilities[position]] if probabilities is not None else []
        writer.writerow([*row, predictions[position], *extra, version])
    return buffer.getvalue()


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
        limit_bytes = self.config.validation.max_lambda_file_bytes
        if size_bytes > limit_bytes:
            message = f"file too large to validate for scoring ({size_bytes} bytes, at most {limit_bytes})"
            return self._reject([CheckFinding(check="file_too_large", message=message)])
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
        local_path = work / LOCAL_UPLOAD_FILE_NAME
        self.store.download(request.bucket, request.key, request.version_id, local_path)
        baseline, drift_note = self._baseline(model)
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

    def _accept(self, outcome: ValidationOutcome, model: BatchModel, drift_note: str) -> BatchPlan:
        name = self.name
        files = outcome.split_files
        self.store.upload_file(
            files[FEATURES], batch_layout.transform_input_prefix(name) + batch_layout.FEATURES_FILE_NAME, "text/csv"
        )
        self.store.upload_file(files[ROWS], batch_layout.batch_job_key(name, ROWS_FILE_NAME), "text/csv")
        quarantined_rows_uri = None
        if QUARANTINED in files:
            quarantined_rows_uri = self.store.upload_file(files[QUARANTINED], s3_layout.quarantine_rows_key(name), "text/csv")
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

    def conclude(self) -> BatchResult:
        plan = BatchPlan.model_validate(self.request.plan or {})
        if plan.model is None:
            raise BatchOutputError("the batch plan names no model")
        name = self.name
        output = self.s3.get_object(Bucket=self.store.bucket, Key=batch_layout.transform_output_key(name))
        predictions, probabilities, classes = parse_transform_output(output["Body"].read().decode("utf-8"))
        rows_csv = self.s3.get_object(Bucket=self.store.bucket, Key=batch_layout.batch_job_key(name, ROWS_FILE_NAME))
        text = predictions_csv(
            rows_csv["Body"].read().decode("utf-8"), predictions, probabilities, classes, plan.model.model_version
        )
        predictions_key = batch_layout.predictions_key(self.request.key, name)
        predictions_uri = self.store.put_text(predictions_key, text, "text/csv")
        saved = self.store.read_json(batch_layout.batch_job_key(name, PLAN_FILE_NAME)) or {}
        reason = (
            f"{len(predictions)} of {plan.rows} rows scored by model version {plan.model.model_version} "
            f"(chosen by {plan.model.chosen_by})"
            + (f"; {plan.quarantined_rows} held back in {plan.quarantined_rows_uri}" if plan.quarantined_rows else "")
        )
        report = self._report(
            "scored",
            reason,
            plan.model,
            saved.get("validation", {}),
            extra={
                "rows_scored": len(predictions),
                "predictions_uri": predictions_uri,
                "transform_job_name": plan.transform_job_name,
                "prediction_distribution": prediction_distribution(
                    predictions, self.config.dataset.problem_type == "regression"
                ),
                "classes": classes,
            },
        )
        uris = self._write_report(report)
        return BatchResult(
            outcome="scored",
            reason=reason,
            source_uri=self.source_uri,
            model_version=plan.model.model_version,
            rows_scored=len(predictions),
            predictions_uri=predictions_uri,
            **uris,
        )

    def failed(self) -> BatchResult:
        plan = BatchPlan.model_validate(self.request.plan or {})
        transform = self.request.transform or {}
        reason = f"transform job {plan.transform_job_name} {str(transform.get('status', 'failed')).lower()}: {transform.get('reason') or 'no reason given'}"
        saved = self.store.read_json(batch_layout.batch_job_key(self.name, PLAN_FILE_NAME)) or {}
        report = self._report(
            "failed", reason, plan.model, saved.get("validation", {}), extra={"transform_job_name": plan.transform_job_name}
        )
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
        return conclude_batch(request, config, s3=s3, data_bucket=data_bucket)
    if request.mode == "batch_failed":
        return record_batch_failure(request, config, s3=s3, data_bucket=data_bucket)
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
