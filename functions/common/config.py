"""The pipeline config: one JSON file that the CDK stacks, the Lambda handlers and the
training entry point all read. `mlops init` writes it; people edit it.

In Lambda the file is packaged at the root of the function's code (``LAMBDA_TASK_ROOT``),
in the training source bundle next to ``train.py``, and the CDK app reads it from the path
in the ``config`` context key of ``cdk.json``.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CONFIG_FILE_NAME = "pipeline_config.json"

ColumnType = Literal["integer", "float", "category", "boolean", "date", "ignore"]
# Kept in the data and the curated splits, not given to the model: "date" values must parse as
# dates, "ignore" values are not checked (an id, free text).
NON_FEATURE_TYPES = frozenset({"date", "ignore"})
ProblemType = Literal["binary", "multiclass", "regression"]
# What drift beyond a column's levels does: "fail" rejects the upload, "warn" records it and
# leaves the decision to the champion/challenger gate, "ignore" does not compare the column.
DriftPolicy = Literal["fail", "warn", "ignore"]

# No "-": it separates the project from the rest of every resource name (see PipelineConfig).
PROJECT_NAME = re.compile(r"[a-z][a-z0-9]{1,20}")

# A second sample of a source has a few values its first sample never showed (a heavy tail's
# next extreme, a rare label): 1 row in 100 per column is room for them, while a systematic
# fault (a unit change, a renamed category, an emptied column) touches far more rows.
DEFAULT_MOSTLY = 0.99

# The metrics evaluation computes for each problem type (functions/common/model_metrics.py
# METRICS; a test keeps the two equal), so a gate on a name it never computes fails at load.
PROBLEM_METRICS: dict[str, frozenset[str]] = {
    "binary": frozenset({"roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss", "brier", "calibration_error"}),
    "multiclass": frozenset({"accuracy", "f1_macro", "log_loss", "roc_auc_ovr"}),
    "regression": frozenset({"rmse", "mae", "r2"}),
}
# The estimators the built-in training script fits (functions/training/train.py ESTIMATORS).
ESTIMATOR_NAMES = ("gradient_boosting", "random_forest", "linear")

# training.framework: the SageMaker framework image and its built-in trainer.
Framework = Literal["sklearn", "xgboost"]
# The image version of each framework the runtime manifest describes (infra/runtime_manifest.toml;
# a test keeps the two equal): the local cloud runs that image's Python and packages only.
FRAMEWORK_VERSIONS: dict[str, str] = {"sklearn": "1.4-2", "xgboost": "3.0-5"}
# Frameworks whose trainer trains one model across several instances (XGBoost's collective).
DISTRIBUTED_FRAMEWORKS = frozenset({"xgboost"})
# The hyperparameters the built-in XGBoost trainer takes (functions/training_xgboost/train.py
# HYPERPARAMETER_TYPES; a test keeps the two equal), checked when the config loads.
XGBOOST_HYPERPARAMETER_NAMES = frozenset(
    {"num_round", "eta", "max_depth", "min_child_weight", "subsample", "colsample_bytree", "lambda", "alpha",
     "gamma", "max_bin", "seed", "tree_method"}
)
DEFAULT_HYPERPARAMETERS: dict[str, dict[str, str | int | float]] = {
    "sklearn": {"estimator": "gradient_boosting", "max_iter": 200, "learning_rate": 0.1},
    "xgboost": {"num_round": 200, "eta": 0.1, "max_depth": 6},
}

# Metrics where a larger value is worse; every other metric is "higher is better".
LOWER_IS_BETTER_METRICS = frozenset({"rmse", "mae", "log_loss", "brier", "calibration_error"})


# SageMaker's limits on names and deployment guardrails
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpoint.html,
# API_TrafficRoutingConfig.html, API_BlueGreenUpdatePolicy.html, API_CapacitySize.html).
SAGEMAKER_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"
SAGEMAKER_NAME_MAX_CHARS = 63
SAGEMAKER_INSTANCE_TYPE_PATTERN = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"
MAX_BAKE_SECONDS = 3600
MIN_DEPLOYMENT_TIMEOUT_SECONDS = 600
MAX_DEPLOYMENT_TIMEOUT_SECONDS = 28800
MAX_CANARY_FLEET_FRACTION = 0.5
MIN_LINEAR_STEP_PERCENT = 10
MAX_LINEAR_STEP_PERCENT = 50
# A real-time endpoint's request and response payloads are at most 6 MB
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html).
MAX_REALTIME_PAYLOAD_BYTES = 6 * 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class ColumnSchema(_Strict):
    name: str
    type: ColumnType
    minimum: float | None = None
    maximum: float | None = None
    categories: list[str] | None = None
    nullable: bool = False
    max_null_fraction: float = Field(default=0.0, ge=0.0, le=1.0)
    # "warn" records an unseen category and accepts the file; "error" rejects it.
    unseen_category: Literal["warn", "error"] = "warn"
    # Unset: "warn" for the target (new labelled data whose labels moved is what retraining
    # needs; the gate judges it on the trusted reference holdout), "fail" for a feature.
    drift: DriftPolicy | None = None
    drift_warn_psi: float | None = None
    drift_fail_psi: float | None = None
    # The fraction of rows that must pass this column's range, category ("error") and
    # non-null checks (Great Expectations' `mostly`). Rows that fail within the tolerance go to
    # the row-level quarantine and the rest of the upload goes on; more reject the file.
    mostly: float = Field(default=DEFAULT_MOSTLY, ge=0.0, le=1.0)


class DatasetSchema(_Strict):
    target: str
    problem_type: ProblemType
    columns: list[ColumnSchema]
    allow_extra_columns: bool = False
    min_rows: int = Field(default=50, ge=1)
    min_rows_per_class: int = Field(default=5, ge=1)
    max_duplicate_fraction: float = Field(default=0.1, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _target_is_a_column(self) -> DatasetSchema:
        if self.target not in {c.name for c in self.columns}:
            raise ValueError(f"target {self.target!r} is not one of the schema's columns")
        return self

    @property
    def feature_columns(self) -> list[ColumnSchema]:
        """Every column but the target, "date" and "ignore" ones included (they are checked)."""
        return [c for c in self.columns if c.name != self.target]

    def drift_policy(self, column: ColumnSchema) -> DriftPolicy:
        if column.drift is not None:
            return column.drift
        return "warn" if column.name == self.target else "fail"

    def column(self, name: str) -> ColumnSchema:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


class SplitConfig(_Strict):
    validation_fraction: float = Field(default=0.15, gt=0.0, lt=0.5)
    test_fraction: float = Field(default=0.2, gt=0.0, lt=0.5)
    seed: int = 20240601


class DriftConfig(_Strict):
    bins: int = Field(default=10, ge=2, le=100)
    warn_psi: float = 0.1
    fail_psi: float = 0.5
    # Fraction of drifted features above which the monitor's overall drift metric alarms.
    alarm_threshold: float = 0.2


class ValidationJobConfig(_Strict):
    """The SageMaker Processing job that validates uploads above `max_lambda_file_bytes`."""

    instance_type: str = Field(default="ml.m5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    # Validation is one pass over one file; a second instance would only validate it again.
    # A larger file needs a larger instance_type (memory) and volume_size_gb (disk).
    instance_count: int = Field(default=1, ge=1, le=1)
    # Holds the upload, its decompressed copy if it is gzip, and the split files.
    volume_size_gb: int = Field(default=100, ge=1, le=16384)
    max_runtime_seconds: int = Field(default=4 * 3600, ge=60, le=5 * 24 * 3600)
    poll_interval_seconds: int = Field(default=60, ge=1)


class ValidationConfig(_Strict):
    # Files above this size are validated by a SageMaker Processing job (`processing`)
    # instead of inside the Lambda function.
    max_lambda_file_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    chunk_rows: int = 200_000
    max_line_bytes: int = 1024 * 1024
    processing: ValidationJobConfig = Field(default_factory=ValidationJobConfig)


class TrainingConfig(_Strict):
    # The SageMaker framework image the job trains and the endpoint serves in, and its built-in
    # trainer (functions/training_frameworks.py); only XGBoost trains one model across instances.
    framework: Framework = "sklearn"
    # Unset: the version of the framework's image the runtime manifest describes.
    framework_version: str | None = None
    instance_type: str = Field(default="ml.m5.large", pattern=SAGEMAKER_INSTANCE_TYPE_PATTERN)
    instance_count: int = Field(default=1, ge=1)
    volume_size_gb: int = Field(default=10, ge=1)
    max_runtime_seconds: int = Field(default=3600, ge=60)
    poll_interval_seconds: int = Field(default=60, ge=1)
    network_isolation: bool = True
    # A folder of the user's own training code (train.py, optional inference.py and
    # requirements.txt), relative to the config file; unset, the built-in trainer runs
    # (infra/training_source.py checks the folder at synthesis).
    source_dir: str | None = Field(default=None, min_length=1)
    # Passed to the training script as SageMaker hyperparameters (strings on the wire); unset,
    # the framework's defaults (DEFAULT_HYPERPARAMETERS).
    hyperparameters: dict[str, str | int | float] | None = None

    @model_validator(mode="after")
    def _framework_defaults(self) -> TrainingConfig:
        if self.framework_version is None:
            self.framework_version = FRAMEWORK_VERSIONS[self.framework]
        if self.framework_version != FRAMEWORK_VERSIONS[self.framework]:
            raise ValueError(
                f"training.framework_version {self.framework_version!r} is not the {self.framework} image this "
                f"pipeline runs and tests ({FRAMEWORK_VERSIONS[self.framework]!r}); set it to that or remove it"
            )
        if self.hyperparameters is None:
            # The user's own code takes hyperparameters of its own: none unless the config names them.
            self.hyperparameters = {} if self.source_dir is not None else dict(DEFAULT_HYPERPARAMETERS[self.framework])
        built_in_xgboost = self.framework == "xgboost" and self.source_dir is None
        unknown = sorted(set(self.hyperparameters) - XGBOOST_HYPERPARAMETER_NAMES) if built_in_xgboost else []
        if unknown:
            raise ValueError(
                f"training.hyperparameters {', '.join(map(repr, unknown))} are not hyperparameters of the XGBoost "
                f"trainer; it takes {', '.join(sorted(XGBOOST_HYPERPARAMETER_NAMES))}"
            )
        if self.instance_count > 1 and self.framework not in DISTRIBUTED_FRAMEWORKS:
            raise ValueError(
                f"training.instance_count {self.instance_count} with framework {self.framework!r}: its trainer fits one "
                "model on one host, so every other instance would be paid for and do nothing; use instance_count 1 "
                "and a larger instance_type, or framework 'xgboost', which trains one model across the instances"
            )
        return self


class GateConfig(_Strict):
    primary_metric: str
    # Absolute floors (ceilings for lower-is-better metrics), metric name -> bound.
    thresholds: dict[str, float] = Field(default_factory=dict)
    # Largest allowed loss on the primary metric against the champion on the reference holdout
    # (the test rows of the versions approved before), in metric units.
    max_regression: float = Field(default=0.01, ge=0.0)
    # How much better than the champion the challenger must score on the new test rows, in
    # metric units; it must beat the champion by more than this, so by default a tie does not
    # deploy (a redeployment of an equal model is a blue/green update for nothing).
    min_improvement: float = Field(default=0.0, ge=0.0)
    # The champion's primary metric on the new rows worse than its registered score by more
    # than this fraction of it (0.2: AUC 0.99 -> below 0.79), while on the reference holdout it
    # is within half of that, means the new labels contradict a model that still works: the
    # upload is held as suspect labels, not deployed.
    suspect_label_drop: float = Field(default=0.2, gt=0.0, le=1.0)
    bootstrap_samples: int = Field(default=200, ge=0)


class DeploymentConfig(_Strict):
    endpoint_name: str = Field(
        default="mlops-endpoint", pattern=SAGEMAKER_NAME_PATTERN, max_length=SAGEMAKER_NAME_MAX_CHARS
    )
    instance_type: str = Field(default="ml.m5.large", pattern=SAGEMAKER_INSTANCE_TYPE_PATTERN)
    initial_instance_count: int = Field(default=1, ge=1)
    # ALL_AT_ONCE is blue/green with a bake and auto-rollback on a fleet of any size; a canary
    # or a linear step must be at most half of the fleet, which one instance cannot give.
    strategy: Literal["canary", "linear", "all_at_once"] = "all_at_once"
    canary_percent: int = Field(default=10, ge=1, le=50)
    linear_step_percent: int = Field(default=25, ge=MIN_LINEAR_STEP_PERCENT, le=MAX_LINEAR_STEP_PERCENT)
    wait_interval_seconds: int = Field(default=300, ge=0, le=MAX_BAKE_SECONDS)
    termination_wait_seconds: int = Field(default=600, ge=0, le=MAX_BAKE_SECONDS)
    maximum_execution_timeout_seconds: int = Field(
        default=3600, ge=MIN_DEPLOYMENT_TIMEOUT_SECONDS, le=MAX_DEPLOYMENT_TIMEOUT_SECONDS
    )
    data_capture_percent: int = Field(default=100, ge=0, le=100)
    poll_interval_seconds: int = Field(default=30, ge=1)
    # A serverless endpoint costs nothing idle but has no data capture, no GPU and no blue/green.
    serverless: bool = False
    serverless_memory_mb: int = 2048
    serverless_max_concurrency: int = 5
    # "batch_only": no real-time endpoint; an approved version becomes the model batch/ uploads
    # are scored with.
    mode: Literal["realtime", "batch_only"] = "realtime"

    @model_validator(mode="after")
    def _within_guardrail_limits(self) -> DeploymentConfig:
        if self.serverless:
            return self
        if self.strategy in ("canary", "linear"):
            field, percent = (
                ("canary_percent", self.canary_percent)
                if self.strategy == "canary"
                else ("linear_step_percent", self.linear_step_percent)
            )
            shifted = math.ceil(percent * self.initial_instance_count / 100)
            if shifted > self.initial_instance_count * MAX_CANARY_FLEET_FRACTION:
                raise ValueError(
                    f"deployment.{field}: {percent} % of {self.initial_instance_count} instance(s) is {shifted} "
                    f"instance(s), more than half of the fleet; SageMaker's {self.strategy} traffic shifting "
                    f"allows at most {MAX_CANARY_FLEET_FRACTION * 100:.0f} % of the fleet per step (raise "
                    "deployment.initial_instance_count to at least 2, or use strategy all_at_once)"
                )
        waits = self.termination_wait_seconds + self.wait_interval_seconds * self._traffic_shifts()
        if self.maximum_execution_timeout_seconds <= waits:
            raise ValueError(
                f"deployment.maximum_execution_timeout_seconds: {self.maximum_execution_timeout_seconds} s must be "
                f"more than the deployment's waits ({waits} s: termination_wait_seconds plus wait_interval_seconds "
                "per traffic shift), as SageMaker requires"
            )
        return self

    def _traffic_shifts(self) -> int:
        if self.strategy == "linear":
            return math.ceil(100 / self.linear_step_percent)
        return 1


# Batch Transform's limits (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html):
# MaxPayloadInMB at most 100, and MaxConcurrentTransforms * MaxPayloadInMB at most 100 as well;
# ModelClientConfig.InvocationsTimeoutInSeconds 1-3600.
MAX_TRANSFORM_PAYLOAD_MB = 100
MAX_TRANSFORM_INVOCATION_TIMEOUT_SECONDS = 3600


class BatchConfig(_Strict):
    """Batch scoring of files uploaded under batch/ by a SageMaker Batch Transform job."""

    instance_type: str = Field(default="ml.m5.large", pattern=SAGEMAKER_INSTANCE_TYPE_PATTERN)
    instance_count: int = Field(default=1, ge=1)
    # A mini-batch of lines is at most this large; a single line above it fails the job.
    max_payload_mb: int = Field(default=6, ge=1, le=MAX_TRANSFORM_PAYLOAD_MB)
    max_concurrent_transforms: int = Field(default=1, ge=1)
    invocation_timeout_seconds: int = Field(default=600, ge=1, le=MAX_TRANSFORM_INVOCATION_TIMEOUT_SECONDS)
    # A transform job has no stopping condition of its own: this bounds the state machine's wait.
    max_runtime_seconds: int = Field(default=4 * 3600, ge=60)
    poll_interval_seconds: int = Field(default=60, ge=1)
    # "report": drift against the scoring version's training profile is in the batch report and
    # scoring goes on; "block": drift beyond a feature's fail level rejects the file.
    drift: Literal["report", "block"] = "report"

    @model_validator(mode="after")
    def _within_transform_limits(self) -> BatchConfig:
        if self.max_payload_mb * self.max_concurrent_transforms > MAX_TRANSFORM_PAYLOAD_MB:
            raise ValueError(
                f"batch.max_payload_mb ({self.max_payload_mb}) times batch.max_concurrent_transforms "
                f"({self.max_concurrent_transforms}) is above {MAX_TRANSFORM_PAYLOAD_MB} MB, which "
                "SageMaker's CreateTransformJob refuses"
            )
        return self


class MonitoringConfig(_Strict):
    error_5xx_threshold: int = Field(default=5, ge=1)
    latency_p99_threshold_ms: float = Field(default=1000.0, gt=0)
    period_seconds: int = Field(default=60, ge=10)
    evaluation_periods: int = Field(default=3, ge=1)
    drift_schedule_minutes: int = Field(default=60, ge=5)
    cooldown_seconds: int = Field(default=3600, ge=0)
    max_retrains_per_day: int = Field(default=3, ge=0)
    # The invocation anomaly alarm: CloudWatch anomaly detection on the endpoint's Invocations
    # (sum per period); it alarms outside the band of this many standard deviations.
    invocation_anomaly_band_width: float = Field(default=2.0, gt=0, le=10)
    # Anomaly detection alarms take whole minutes.
    invocation_anomaly_period_seconds: int = Field(default=300, ge=60, multiple_of=60)
    invocation_anomaly_evaluation_periods: int = Field(default=3, ge=1)
    # Alarm kind -> what the alarm responder does about it; a kind not listed notifies.
    actions: dict[str, Literal["rollback", "retrain", "notify"]] = Field(
        default_factory=lambda: {
            "errors": "rollback",
            "latency": "rollback",
            "drift": "retrain",
            "quality": "retrain",
            # Unusual traffic volume is for a person to look at, not a reason to roll back.
            "invocation-anomaly": "notify",
        }
    )


class PipelineConfig(_Strict):
    project: str = "mlops"
    dataset: DatasetSchema
    split: SplitConfig = Field(default_factory=SplitConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    gates: GateConfig
    approval: Literal["automatic", "manual"] = "automatic"
    deployment: DeploymentConfig = Field(default_factory=DeploymentConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)

    @field_validator("project")
    @classmethod
    def _project_name_is_unambiguous(cls, project: str) -> str:
        if not PROJECT_NAME.fullmatch(project):
            raise ValueError(
                f"project {project!r} must be 2 to 21 lowercase letters and digits, starting with a "
                "letter; no '-', as the stack's IAM policies allow '<project>-*' and a project "
                "'mlops' would then reach the resources of a project 'mlops-foo'"
            )
        return project

    @model_validator(mode="after")
    def _names_are_known(self) -> PipelineConfig:
        """Metric and estimator names are checked here, not after a training job has run."""
        problem_type = self.dataset.problem_type
        known = PROBLEM_METRICS[problem_type]
        unknown = sorted({self.gates.primary_metric, *self.gates.thresholds} - known)
        if unknown:
            raise ValueError(
                f"gates name {', '.join(map(repr, unknown))}, not a {problem_type} metric; "
                f"choose from {', '.join(sorted(known))}"
            )
        estimator = (self.training.hyperparameters or {}).get("estimator")
        # The user's own training code takes hyperparameters of its own.
        built_in_sklearn = self.training.framework == "sklearn" and self.training.source_dir is None
        if built_in_sklearn and estimator is not None and estimator not in ESTIMATOR_NAMES:
            raise ValueError(
                f"training.hyperparameters.estimator {estimator!r} is not one of {', '.join(ESTIMATOR_NAMES)}"
            )
        return self

    @property
    def model_package_group(self) -> str:
        return f"{self.project}-models"

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True) + "\n"


class ConfigError(Exception):
    """The pipeline config is missing or does not parse."""


def load_config(path: str | os.PathLike[str]) -> PipelineConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read pipeline config {path}: {error.strerror}") from error
    try:
        return PipelineConfig.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValueError) as error:
        raise ConfigError(f"pipeline config {path} is invalid: {error}") from error


def load_packaged_config() -> PipelineConfig:
    """The config packaged with the running Lambda function's code."""
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if not task_root:
        raise ConfigError("LAMBDA_TASK_ROOT is not set; cannot find the packaged pipeline config")
    return load_config(Path(task_root) / CONFIG_FILE_NAME)
