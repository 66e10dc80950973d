"""What the state machine's batch branch hands the validate function and what it returns
(beside contracts.py's training payloads)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from functions.common.contracts import CheckFinding, ValidateDataRequest, ValidationJobPlan, _Model


class BatchRequest(ValidateDataRequest):
    """"batch": validate the file (or, above validation.max_lambda_file_bytes, plan the validation
    job that does) and plan its transform job; "batch_validation_concluded": take the validation
    job's outcome as "batch" takes its own; "batch_conclude": join the transform job's output to
    the rows and write the predictions; "batch_failed": record a job that failed."""

    mode: Literal["batch", "batch_validation_concluded", "batch_conclude", "batch_failed"]
    plan: dict[str, Any] | None = None  # $.batch, for the steps after "batch"
    transform: dict[str, Any] | None = None  # the transform job's last Describe result (status, reason)
    processing: dict[str, Any] | None = None  # the validation job's, when that job failed


class BatchModel(_Model):
    """The registered version that scores the file, as the CreateModel state needs it."""

    model_package_arn: str
    model_version: int
    model_name: str
    image_uri: str
    model_data_url: str
    environment: dict[str, str]
    chosen_by: str  # "the key", "the object's tag", "the endpoint", "the newest approved version"
    profile_uri: str | None = None  # its training data's profile: the drift baseline


class BatchJoinJob(_Model):
    """The SageMaker Processing job that joins the transform job's answers to the scored rows, and
    the S3 URIs of its inputs and outputs."""

    job_name: str
    rows_uri: str  # rows.csv: the scored rows' numbers and ids
    plan_uri: str  # join-plan.json: the model version and whether it is a regression
    answers_uri: str  # the transform job's output prefix
    predictions_uri: str  # the folder predictions.csv goes to
    summary_uri: str  # the folder summary.json goes to (rows, classes, distribution)


class BatchPlan(_Model):
    # "failed": no version can score the file (none approved yet). "validate_in_job": the file is
    # above validation.max_lambda_file_bytes; a SageMaker Processing job validates it first.
    outcome: Literal["accepted", "data_rejected", "failed", "validate_in_job"]
    reason: str | None = None
    source_uri: str
    rows: int | None = None
    quarantined_rows: int = 0
    quarantined_rows_uri: str | None = None
    quarantine_uri: str | None = None
    errors: list[CheckFinding] = Field(default_factory=list)
    warnings: list[CheckFinding] = Field(default_factory=list)
    model: BatchModel | None = None
    transform_job_name: str | None = None
    input_uri: str | None = None  # the prefix holding the rows to score (features.csv)
    output_uri: str | None = None
    predictions_uri: str | None = None
    report_uri: str | None = None
    report_html_uri: str | None = None
    validation_job: ValidationJobPlan | None = None
    # A file the validation job checked is joined to its predictions by that job's image too
    # (processing_job.py --join), not by the function: its size is not bounded by the function's.
    join_job: BatchJoinJob | None = None


class BatchResult(_Model):
    outcome: Literal["scored", "failed"]
    reason: str
    source_uri: str
    model_version: int | None = None
    rows_scored: int = 0
    predictions_uri: str | None = None
    report_uri: str | None = None
    report_html_uri: str | None = None
