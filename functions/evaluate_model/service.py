"""Evaluate one training job's model against the test split and the serving champion.

Receives its AWS clients as arguments; the handler builds them.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from typing import Any

import numpy as np
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from functions.common.config import DatasetSchema, PipelineConfig, ProblemType
from functions.common.contracts import ChampionReference, EvaluateModelRequest, EvaluateModelResult, GateComparison
from functions.common.errors import (
    ChampionUnavailableError,
    PipelineError,
    TrainingContractError,
    TrainingOutputMissingError,
)
from functions.common.model_metrics import (
    ModelPredictions,
    PredictionsMismatchError,
    Rows,
    canonical_label,
    compute_metrics,
    positive_class_for,
    prepare_rows,
)
from functions.common.s3_layout import PREDICTIONS_FILE_NAME, SPLIT_FILE_NAME, report_key, s3_uri, split_uri
from functions.evaluate_model import champion as champion_module
from functions.evaluate_model import report
from functions.evaluate_model.evaluation import (
    ChampionEvidence,
    bootstrap_difference,
    bootstrap_intervals,
    comparison,
    decide,
)
from functions.evaluate_model.settings import EvaluationSettings

OUTPUT_ARCHIVE_NAME = "output.tar.gz"
PREDICTION_COLUMN = "prediction"
PROBABILITY_COLUMN_PREFIX = "proba__"
# Predictions files are small (one row per test row); refuse archives that are clearly not ours.
MAX_OUTPUT_ARCHIVE_BYTES = 512 * 1024 * 1024


class EvaluationInputError(PipelineError):
    """The request cannot be evaluated (e.g. the validation result has no data channels)."""


def execution_name_of(execution_arn: str) -> str:
    return execution_arn.rsplit(":", 1)[-1]


def training_artifacts(sagemaker: Any, training_job_name: str) -> tuple[str, str]:
    """(model.tar.gz URI, output.tar.gz URI) of a completed training job."""
    try:
        job = sagemaker.describe_training_job(TrainingJobName=training_job_name)
    except (ClientError, BotoCoreError) as error:
        raise TrainingOutputMissingError(f"cannot describe training job {training_job_name}: {error}") from error
    status = job.get("TrainingJobStatus")
    if status != "Completed":
        raise TrainingOutputMissingError(f"training job {training_job_name} is {status}, not Completed")
    model_artifact = (job.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
    if not model_artifact:
        raise TrainingOutputMissingError(f"training job {training_job_name} reports no model artifact")
    return model_artifact, posixpath.join(posixpath.dirname(model_artifact), OUTPUT_ARCHIVE_NAME)


def _get_object_bytes(s3: Any, uri: str, missing: type[PipelineError], what: str) -> bytes:
    bucket, key = split_uri(uri)
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        raise missing(f"{what} {uri} cannot be read ({error.response.get('Error', {}).get('Code', 'error')})") from error
    if response.get("ContentLength", 0) > MAX_OUTPUT_ARCHIVE_BYTES:
        raise missing(f"{what} {uri} is larger than {MAX_OUTPUT_ARCHIVE_BYTES} bytes")
    return response["Body"].read()


def _predictions_csv(archive: bytes, output_uri: str) -> bytes:
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            members = [m for m in tar.getmembers() if m.isfile() and posixpath.basename(m.name) == PREDICTIONS_FILE_NAME]
            if not members:
                raise TrainingOutputMissingError(
                    f"{output_uri} holds no {PREDICTIONS_FILE_NAME}: the training script wrote none to SM_OUTPUT_DATA_DIR "
                    "(script-mode contract: one prediction per test row, in the test split's order)"
                )
            # The output data directory's own file, not one nested deeper.
            member = min(members, key=lambda m: m.name.count("/"))
            extracted = tar.extractfile(member)
            return extracted.read() if extracted is not None else b""
    except tarfile.TarError as error:
        raise TrainingOutputMissingError(f"{output_uri} is not a readable tar archive") from error


def parse_predictions(csv_bytes: bytes, classification: bool) -> ModelPredictions:
    """predictions.csv: `prediction` plus, for classification, one `proba__<class>` column per class."""
    try:
        frame = pd.read_csv(io.BytesIO(csv_bytes), dtype={PREDICTION_COLUMN: str} if classification else None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise PredictionsMismatchError(f"{PREDICTIONS_FILE_NAME} cannot be parsed as CSV") from error
    if PREDICTION_COLUMN not in frame.columns:
        raise PredictionsMismatchError(f"{PREDICTIONS_FILE_NAME} has no {PREDICTION_COLUMN!r} column")
    if not classification:
        try:
            return ModelPredictions(labels=frame[PREDICTION_COLUMN].to_numpy(dtype=float))
        except (TypeError, ValueError) as error:
            raise PredictionsMismatchError(f"{PREDICTIONS_FILE_NAME} has non-numeric predictions") from error
    probability_columns = [c for c in frame.columns if str(c).startswith(PROBABILITY_COLUMN_PREFIX)]
    classes = tuple(canonical_label(str(c)[len(PROBABILITY_COLUMN_PREFIX):]) for c in probability_columns)
    probabilities = None
    if probability_columns:
        try:
            probabilities = frame[probability_columns].to_numpy(dtype=float)
        except (TypeError, ValueError) as error:
            raise PredictionsMismatchError(f"{PREDICTIONS_FILE_NAME} has non-numeric probabilities") from error
    labels = np.asarray(frame[PREDICTION_COLUMN].astype(object).to_numpy(), dtype=object)
    return ModelPredictions(labels=labels, classes=classes, probabilities=probabilities)


def read_test_split(s3: Any, test_prefix: str, schema: DatasetSchema) -> pd.DataFrame:
    uri = test_prefix if test_prefix.endswith(SPLIT_FILE_NAME) else test_prefix.rstrip("/") + "/" + SPLIT_FILE_NAME
    body = _get_object_bytes(s3, uri, EvaluationInputError, "test split")
    # Category columns stay text so labels like "01" keep their spelling.
    text_columns = {c.name: str for c in schema.columns if c.type == "category"}
    if schema.problem_type != "regression":
        text_columns[schema.target] = str
    try:
        frame = pd.read_csv(io.BytesIO(body), dtype=text_columns)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise EvaluationInputError(f"test split {uri} cannot be parsed as CSV") from error
    missing = [c.name for c in schema.columns if c.name not in frame.columns]
    if missing:
        raise EvaluationInputError(f"test split {uri} lacks schema columns: {', '.join(missing)}")
    return frame


def _champion_section(champion: ChampionReference, section: dict[str, Any]) -> dict[str, Any]:
    return {
        "label": champion_module.label_of(champion),
        "model_version": champion.model_version,
        "model_package_arn": champion.model_package_arn,
        "model_artifact": champion.model_artifact,
        "registered_score": champion.registered_score,
        "serves": champion.serves,
        "scored_by": "the training job, from the champion's model artifact (not the live endpoint)",
        **section,
    }


def _rows(problem_type: ProblemType, y_true: Any, predictions: ModelPredictions, positive_class: str | None, whose: str) -> Rows:
    try:
        return prepare_rows(problem_type, y_true, predictions, positive_class)
    except PredictionsMismatchError as error:
        raise ChampionUnavailableError(f"{whose} predictions cannot be scored: {error}") from error


def _challenger_rows(
    problem_type: ProblemType, y_true: Any, schema: DatasetSchema, predictions_csv: bytes, training_job_name: str
) -> tuple[Rows, str | None]:
    """The challenger's predictions lined up with the test rows, and the positive class; a file
    that cannot be is the training script's breach of the script-mode contract."""
    try:
        predictions = parse_predictions(predictions_csv, problem_type != "regression")
        positive_class = None
        if problem_type == "binary":
            observed = [canonical_label(v) for v in y_true] + list(predictions.classes)
            positive_class = positive_class_for(schema.column(schema.target).categories, observed)
        return prepare_rows(problem_type, y_true, predictions, positive_class), positive_class
    except PredictionsMismatchError as error:
        raise TrainingContractError(
            f"the predictions.csv of training job {training_job_name} breaks the script-mode contract: {error}"
        ) from error


def evaluate_candidate(
    request: EvaluateModelRequest,
    config: PipelineConfig,
    settings: EvaluationSettings,
    sagemaker: Any,
    s3: Any,
) -> EvaluateModelResult:
    schema = config.dataset
    gates = config.gates
    problem_type = schema.problem_type
    classification = problem_type != "regression"
    execution_name = execution_name_of(request.execution_arn)
    channels = request.validation.channels
    if channels is None:
        raise EvaluationInputError(
            f"validation outcome {request.validation.outcome!r} has no data channels, so there is nothing to evaluate"
        )

    model_artifact, output_uri = training_artifacts(sagemaker, request.training_job_name)
    test = read_test_split(s3, channels.test, schema)
    archive = _get_object_bytes(s3, output_uri, TrainingOutputMissingError, "training output")
    y_true = test[schema.target].to_numpy()
    challenger_rows, positive_class = _challenger_rows(
        problem_type, y_true, schema, _predictions_csv(archive, output_uri), request.training_job_name
    )
    metrics = compute_metrics(challenger_rows)
    interval_metrics = [gates.primary_metric, *gates.thresholds]
    intervals = bootstrap_intervals(challenger_rows, interval_metrics, gates.bootstrap_samples)

    champion = request.validation.champion
    champion_metrics: dict[str, float] | None = None
    champion_document: dict[str, Any] | None = None
    reference_document: dict[str, Any] | None = None
    difference_interval = None
    evidence = None
    if champion is not None:
        label = champion_module.label_of(champion)
        files = champion_module.output_files(archive, output_uri)
        champion_predictions = parse_predictions(
            champion_module.required(files, champion_module.CHAMPION_PREDICTIONS_FILE_NAME, output_uri, champion),
            classification,
        )
        champion_rows = _rows(problem_type, y_true, champion_predictions, positive_class, label)
        champion_metrics = compute_metrics(champion_rows)
        difference_interval = bootstrap_difference(
            challenger_rows, champion_rows, gates.primary_metric, gates.bootstrap_samples
        )
        champion_document = _champion_section(champion, report.model_section(champion_rows, champion_metrics))
        reference = None
        holdout = champion_module.reference_holdout(files, output_uri, champion, classification)
        if holdout is not None:
            reference_challenger = _rows(
                problem_type, holdout.labels, parse_predictions(holdout.challenger_csv, classification), positive_class,
                "the challenger's reference",
            )
            reference_champion = _rows(
                problem_type, holdout.labels, parse_predictions(holdout.champion_csv, classification), positive_class,
                f"{label}'s reference",
            )
            reference_metrics = compute_metrics(reference_challenger)
            reference_champion_metrics = compute_metrics(reference_champion)
            reference = comparison(
                gates.primary_metric, "the reference holdout", int(reference_challenger.size),
                reference_metrics, reference_champion_metrics,
            )
            reference_document = {
                "dataset_versions": champion.reference_dataset_versions,
                "rows": int(reference_challenger.size),
                "challenger_metrics": reference_metrics,
                "champion_metrics": reference_champion_metrics,
            }
        evidence = ChampionEvidence(
            label=label,
            new_rows=comparison(
                gates.primary_metric, "the new test rows", int(challenger_rows.size), metrics, champion_metrics
            ),
            reference=reference,
            registered_score=champion.registered_score if champion.primary_metric == gates.primary_metric else None,
        )

    decision = decide(gates, problem_type, metrics, evidence, intervals.get(gates.primary_metric))

    json_key = report_key(execution_name, "evaluation.json")
    html_key = report_key(execution_name, "evaluation.html")
    document = report.build_document(
        header={
            "execution_arn": request.execution_arn,
            "execution_name": execution_name,
            "training_job_name": request.training_job_name,
            "dataset_version": request.validation.dataset_version,
            "test_split": channels.test,
            "model_artifact": model_artifact,
            "model_package_group": settings.model_package_group,
            "problem_type": problem_type,
            "primary_metric": gates.primary_metric,
            "rows": int(challenger_rows.size),
            "gates": gates.model_dump(),
        },
        decision=decision,
        challenger=report.model_section(challenger_rows, metrics, intervals),
        champion=champion_document,
        reference_holdout=reference_document,
        primary_difference_interval=difference_interval,
    )
    s3.put_object(
        Bucket=settings.data_bucket, Key=json_key, Body=report.to_json(document).encode("utf-8"),
        ContentType="application/json",
    )
    s3.put_object(
        Bucket=settings.data_bucket, Key=html_key, Body=report.render_html(document).encode("utf-8"),
        ContentType="text/html; charset=utf-8",
    )
    return EvaluateModelResult(
        passed=decision.passed,
        primary_metric=gates.primary_metric,
        min_improvement=gates.min_improvement,
        comparisons=[GateComparison.model_validate(compared.to_dict()) for compared in decision.comparisons],
        metrics=metrics,
        confidence_intervals=intervals,
        champion_metrics=champion_metrics,
        champion_version=champion.model_version if champion else None,
        reasons=decision.reasons,
        summary=decision.summary,
        model_artifact=model_artifact,
        report_uri=s3_uri(settings.data_bucket, json_key),
        report_html_uri=s3_uri(settings.data_bucket, html_key),
    )
