"""What the state machine hands each Lambda function and what each returns.

The state machine (infra/constructs/training_workflow/) builds these payloads with JSONPath;
the field names here are the contract between the two. States pass S3 URIs, never data.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator



ApprovalStatus = Literal["Approved", "PendingManualApproval", "Rejected"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class CheckFinding(_Model):
    check: str
    column: str | None = None
    message: str
    examples: list[str] = Field(default_factory=list)


class DataChannels(_Model):
    train: str
    validation: str
    test: str


class EventObject(_Model):
    """The S3 event's `detail.object`, which names the version the upload created."""

    version_id: str | None = Field(default=None, alias="version-id")


class ValidateDataRequest(_Model):
    """Built by the state machine from the S3 "Object Created" EventBridge event."""

    bucket: str
    key: str
    version_id: str | None = None
    event_object: EventObject | None = Field(default=None, alias="object")
    execution_arn: str
    execution_name: str

    @model_validator(mode="after")
    def _version_the_event_names(self) -> ValidateDataRequest:
        # Validation reads the version the upload created, so an overwrite while the execution
        # runs cannot make it validate (and train on) other bytes.
        if self.version_id is None and self.event_object is not None:
            self.version_id = self.event_object.version_id
        return self


class ChampionReference(_Model):
    """The version serving when the upload is judged (the deployment lock is held from before
    validation to the end of the execution, so it is the version the gate compares with): its
    drift baseline, its artifact for the training job to score, and the reference holdout."""

    model_package_arn: str
    model_version: int | None = None
    model_artifact: str  # its model.tar.gz, an input channel of the training job
    # Its primary metric when it was registered ("registered score"), to tell a champion that
    # stopped working from labels that contradict it.
    primary_metric: str | None = None
    registered_score: float | None = None
    # A SageMaker manifest of the test splits of the versions approved before (the trusted
    # reference holdout), an input channel of the training job.
    reference_manifest_uri: str | None = None
    reference_dataset_versions: list[str] = Field(default_factory=list)
    # Where it is in service ("on endpoint X", or scoring batch uploads), for the gate's report.
    serves: str | None = None


class ValidateDataResult(_Model):
    # "validation_job_needed": a file the function cannot read (a Parquet codec its pyarrow lacks)
    # goes on to the validation job, whose result replaces this one.
    outcome: Literal["accepted", "data_rejected", "duplicate", "validation_job_needed"]
    reason: str | None = None
    source_uri: str
    dataset_version: str | None = None  # sha256 of the uploaded bytes
    rows: int | None = None
    channels: DataChannels | None = None
    profile_uri: str | None = None
    report_uri: str | None = None
    report_html_uri: str | None = None
    quarantine_uri: str | None = None
    # Accepted rows that failed a check within its column's tolerance: held back from training,
    # kept with their reasons in quarantined_rows_uri. Curated rows + these = the upload's rows.
    quarantined_rows: int = 0
    quarantined_rows_uri: str | None = None
    errors: list[CheckFinding] = Field(default_factory=list)
    warnings: list[CheckFinding] = Field(default_factory=list)
    # Unique per execution, stable across retries of the same execution.
    training_job_name: str | None = None
    # Order-insensitive digest of the accepted rows (functions/validate_data/fingerprint.py).
    rows_fingerprint: str | None = None
    # None when no model serves yet (the first model is judged by the thresholds alone).
    champion: ChampionReference | None = None


class ValidationJobRequest(ValidateDataRequest):
    """Built by the state machine for an upload above validation.max_lambda_file_bytes: "plan"
    before the SageMaker Processing job that validates it, "conclude" after the job completed."""

    mode: Literal["plan", "conclude"]


class ValidationJobPlan(_Model):
    """What "plan" returns: the job's name (the same for every attempt of an execution) and the
    S3 URIs its inputs and output use."""

    job_name: str
    plan_uri: str  # ProcessingInput "plan": the baseline profile and the upload's file name
    source_manifest_uri: str  # ProcessingInput "data": a manifest naming the one uploaded object
    output_uri: str  # ProcessingOutput "validation": outcome.json and the split files
    # Set when no job is needed because the upload is gone: the result the Lambda route gives.
    result: ValidateDataResult | None = None


class EvaluateModelRequest(_Model):
    validation: ValidateDataResult
    training_job_name: str
    execution_arn: str


class GateComparison(_Model):
    """The challenger and the champion on one set of rows, by the primary metric."""

    rows: str  # "the new test rows" or "the reference holdout"
    row_count: int
    challenger: float | None = None
    champion: float | None = None
    gain: float | None = None  # challenger better by this much (negative: worse)


class EvaluateModelResult(_Model):
    passed: bool
    primary_metric: str
    # The improvement over the champion on the new rows the gate requires (more than this).
    min_improvement: float = 0.0
    # Empty without a champion; else the new test rows, then the reference holdout if any.
    comparisons: list[GateComparison] = Field(default_factory=list)
    metrics: dict[str, float]
    confidence_intervals: dict[str, tuple[float, float]] = Field(default_factory=dict)
    champion_metrics: dict[str, float] | None = None
    champion_version: int | None = None
    reasons: list[str] = Field(default_factory=list)
    # One sentence a person reads in a notification: why the gate passed or failed.
    summary: str
    model_artifact: str
    report_uri: str
    report_html_uri: str | None = None


class RegisterModelRequest(_Model):
    validation: ValidateDataResult
    evaluation: EvaluateModelResult
    training_job_name: str
    execution_arn: str


class RegisterModelResult(_Model):
    model_package_arn: str
    model_version: int
    approval_status: ApprovalStatus
    # What the Deploy states need to create the SageMaker model and endpoint config.
    model_name: str
    endpoint_config_name: str
    image_uri: str
    model_data_url: str
    environment: dict[str, str]


class ModelPackageStateChange(_Model):
    """The detail of a "SageMaker Model Package State Change" EventBridge event (the fields used)."""

    model_package_group_name: str = Field(alias="ModelPackageGroupName")
    model_package_arn: str = Field(alias="ModelPackageArn")
    model_approval_status: str = Field(alias="ModelApprovalStatus")


class PrepareDeploymentRequest(_Model):
    """Built by the state machine from the model package state change event that started it."""

    detail: ModelPackageStateChange
    event_id: str
    execution_arn: str
    execution_name: str


class PrepareDeploymentResult(RegisterModelResult):
    """A RegisterModelResult, so the Deploy states read it the same way, and whether to deploy."""

    deploy: bool
    # One sentence: why the version is (not) deployed.
    reason: str


class AlarmDecision(_Model):
    alarm_name: str
    alarm_kind: str
    state: str
    action: Literal["rollback", "retrain", "notify", "none"]
    outcome: str  # e.g. "rolled back to version 3", "skipped: cooldown"
    reason: str
    model_version_before: int | None = None
    model_version_after: int | None = None
    execution_arn: str | None = None
