"""What the state machine's batch branch hands the validate function and what it returns
(beside contracts.py's training payloads)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from functions.common.contracts import CheckFinding, ValidateDataRequest, _Model


class BatchRequest(ValidateDataRequest):
    """"batch": validate the file and plan its transform job; "batch_conclude": join the job's
    output to the rows and write the predictions; "batch_failed": record a job that failed."""

    mode: Literal["batch", "batch_conclude", "batch_failed"]
    plan: dict[str, Any] | None = None  # $.batch, for the conclude and failure steps
    transform: dict[str, Any] | None = None  # the job's last Describe result (status, reason)


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


class BatchPlan(_Model):
    # "failed": no version can score the file (none approved yet).
    outcome: Literal["accepted", "data_rejected", "failed"]
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


class BatchResult(_Model):
    outcome: Literal["scored", "failed"]
    reason: str
    source_uri: str
    model_version: int | None = None
    rows_scored: int = 0
    predictions_uri: str | None = None
    report_uri: str | None = None
    report_html_uri: str | None = None
