"""Training entry point, SageMaker script mode (scikit-learn framework container 1.4-2).

SageMaker runs ``python train.py --name value ...`` in the source directory, which holds this
file, ``inference.py`` and ``pipeline_config.json``. The local runtime runs the same file as a
subprocess with the same environment variables. Contract:

- hyperparameters: ``--name value`` arguments, over the JSON object in ``SM_HPS``;
- channels ``SM_CHANNEL_TRAIN`` (required), ``SM_CHANNEL_VALIDATION`` and ``SM_CHANNEL_TEST``,
  each a directory holding ``data.csv`` (header row, schema columns including the target);
- ``SM_MODEL_DIR`` receives model.joblib, metadata.json and code/ (inference.py and the config),
  so the artifact serves itself with SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code;
- ``SM_OUTPUT_DATA_DIR`` receives predictions.csv, the test split's predictions in its row order;
- when a version serves, channel ``champion`` holds its model.tar.gz and channel ``reference``
  the reference holdout (the test splits of the versions approved before, through a manifest):
  the champion's predictions on the test split go to champion_predictions.csv, and both
  models' predictions on the reference rows (less any that are also training rows) to
  reference_predictions.csv and champion_reference_predictions.csv, with the reference rows'
  labels in reference_labels.csv. Evaluation compares the two models from these files, so the
  live endpoint never serves evaluation traffic;
- on failure ``SM_OUTPUT_DIR/failure`` holds a one-line reason, which SageMaker reports as the
  job's FailureReason, and the process exits non-zero.

Validation metrics are printed as ``validation:<metric>=<value>;`` lines; ``metric_definitions``
gives the matching SageMaker MetricDefinitions. Python 3.10+, numpy, pandas, scikit-learn and
joblib only.
"""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import sys
import tarfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

try:
    from . import inference as serving
except ImportError:
    # Run as a script (SageMaker, the local runtime): the source directory is sys.path[0].
    import inference as serving  # type: ignore[no-redef]

CONFIG_FILE_NAME = "pipeline_config.json"
SPLIT_FILE_NAME = "data.csv"
PREDICTIONS_FILE_NAME = "predictions.csv"
FAILURE_FILE_NAME = "failure"
CODE_DIR_NAME = "code"
INFERENCE_FILE_NAME = "inference.py"

DEFAULT_MODEL_DIR = "/opt/ml/model"
DEFAULT_OUTPUT_DIR = "/opt/ml/output"
DEFAULT_OUTPUT_DATA_DIR = "/opt/ml/output/data"
DEFAULT_CHANNELS_DIR = "/opt/ml/input/data"
TRAIN_CHANNEL = "train"
VALIDATION_CHANNEL = "validation"
TEST_CHANNEL = "test"
CHAMPION_CHANNEL = "champion"
REFERENCE_CHANNEL = "reference"
MODEL_ARCHIVE_NAME = "model.tar.gz"
CHAMPION_PREDICTIONS_FILE_NAME = "champion_predictions.csv"
REFERENCE_PREDICTIONS_FILE_NAME = "reference_predictions.csv"
CHAMPION_REFERENCE_PREDICTIONS_FILE_NAME = "champion_reference_predictions.csv"
REFERENCE_LABELS_FILE_NAME = "reference_labels.csv"
LABEL_COLUMN = "label"

PROBLEM_TYPES = ("binary", "multiclass", "regression")
COLUMN_TYPES = ("integer", "float", "category", "boolean", "date", "ignore")
# Columns kept in the data but not given to the model (functions/common/config.py NON_FEATURE_TYPES).
NON_FEATURE_TYPES = frozenset({"date", "ignore"})
ESTIMATORS = ("gradient_boosting", "random_forest", "linear")
CLASS_WEIGHTS = ("balanced",)

# SageMaker adds its own sagemaker_* hyperparameters (program, submit directory, region...).
RESERVED_HYPERPARAMETER_PREFIX = "sagemaker_"
# The state machine also names the dataset's target and problem type, so the training job's
# record says what it learned; they must agree with the packaged config.
DATASET_HYPERPARAMETERS = ("target", "problem_type")
HYPERPARAMETER_DEFAULTS: dict[str, Any] = {
    "estimator": "gradient_boosting",
    "max_iter": 200,
    "learning_rate": 0.1,
    "max_depth": None,
    "min_samples_leaf": None,
    "n_estimators": 200,
    "C": 1.0,
    "alpha": 1.0,
    "class_weight": None,
    "seed": 0,
}
INTEGER_HYPERPARAMETERS = frozenset({"max_iter", "max_depth", "min_samples_leaf", "n_estimators", "seed"})
POSITIVE_HYPERPARAMETERS = frozenset({"max_iter", "max_depth", "min_samples_leaf", "n_estimators", "learning_rate", "C", "alpha"})
FLOAT_HYPERPARAMETERS = frozenset({"learning_rate", "C", "alpha"})
NONE_SPELLINGS = frozenset({"", "none", "null"})

MISSING_CATEGORY = "__missing__"
# Categories beyond this many per column are pooled as "infrequent" instead of widening the matrix.
MAX_CATEGORIES_PER_FEATURE = 100
LINEAR_SOLVER_MAX_ITERATIONS = 2000
MAX_FAILURE_REASON_CHARS = 1000
EXIT_CODE_DATA_ERROR = 2
EXIT_CODE_UNEXPECTED_ERROR = 1

CLASSIFICATION_METRICS = {
    "binary": ("roc_auc", "accuracy", "f1", "log_loss"),
    "multiclass": ("accuracy", "f1_macro", "log_loss", "roc_auc_ovr"),
}
REGRESSION_METRICS = ("rmse", "mae", "r2")


class TrainingError(Exception):
    """A problem with the inputs of a training run; its message is the job's failure reason."""


class ConfigInvalidError(TrainingError):
    pass


class HyperparameterError(TrainingError):
    pass


class ChannelMissingError(TrainingError):
    pass


class ChannelUnreadableError(TrainingError):
    pass


class ColumnMissingError(TrainingError):
    pass


class TargetInvalidError(TrainingError):
    pass


class ChampionUnreadableError(TrainingError):
    """The serving version's artifact cannot be loaded or cannot score the rows."""


@dataclass(frozen=True)
class DatasetSpec:
    target: str
    problem_type: str
    features: list[dict[str, str]]

    @property
    def is_classification(self) -> bool:
        return self.problem_type != "regression"


@dataclass(frozen=True)
class TrainingEnvironment:
    model_dir: Path
    output_dir: Path
    output_data_dir: Path
    channel_dirs: dict[str, Path]
    hyperparameters_json: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> TrainingEnvironment:
        channels = (TRAIN_CHANNEL, VALIDATION_CHANNEL, TEST_CHANNEL, CHAMPION_CHANNEL, REFERENCE_CHANNEL)
        return cls(
            model_dir=Path(environ.get("SM_MODEL_DIR", DEFAULT_MODEL_DIR)),
            output_dir=Path(environ.get("SM_OUTPUT_DIR", DEFAULT_OUTPUT_DIR)),
            output_data_dir=Path(environ.get("SM_OUTPUT_DATA_DIR", DEFAULT_OUTPUT_DATA_DIR)),
            channel_dirs={
                channel: Path(environ.get(f"SM_CHANNEL_{channel.upper()}", f"{DEFAULT_CHANNELS_DIR}/{channel}"))
                for channel in channels
            },
            hyperparameters_json=environ.get("SM_HPS", "{}"),
        )


# --- config -----------------------------------------------------------------------------


def load_dataset_spec(config_path: Path) -> DatasetSpec:
    """The dataset part of the pipeline config, read with plain json (no pydantic here)."""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigInvalidError(f"{CONFIG_FILE_NAME} not found beside the training script ({config_path})") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigInvalidError(f"{CONFIG_FILE_NAME} cannot be read as JSON: {error}") from error
    try:
        dataset = config["dataset"]
        target = dataset["target"]
        problem_type = dataset["problem_type"]
        columns = [{"name": column["name"], "type": column["type"]} for column in dataset["columns"]]
    except (KeyError, TypeError) as error:
        raise ConfigInvalidError(f"{CONFIG_FILE_NAME} lacks dataset.target, problem_type or columns ({error})") from error
    if problem_type not in PROBLEM_TYPES:
        raise ConfigInvalidError(f"dataset.problem_type {problem_type!r} is not one of {', '.join(PROBLEM_TYPES)}")
    names = [column["name"] for column in columns]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigInvalidError(f"dataset.columns repeats {', '.join(map(repr, duplicates))}")
    unknown_types = sorted({column["type"] for column in columns} - set(COLUMN_TYPES))
    if unknown_types:
        raise ConfigInvalidError(f"dataset.columns uses unknown type(s) {', '.join(map(repr, unknown_types))}")
    if target not in names:
        raise ConfigInvalidError(f"target {target!r} is not one of dataset.columns")
    features = [column for column in columns if column["name"] != target and column["type"] not in NON_FEATURE_TYPES]
    if not features:
        raise ConfigInvalidError("dataset.columns holds no feature besides the target")
    return DatasetSpec(target=target, problem_type=problem_type, features=features)


# --- hyperparameters --------------------------------------------------------------------


def _cli_hyperparameters(argv: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    position = 0
    while position < len(argv):
        token = argv[position]
        if not token.startswith("--") or len(token) == 2:
            raise HyperparameterError(f"unexpected argument {token!r}; hyperparameters are --name value pairs")
        name = token[2:]
        if "=" in name:
            name, value = name.split("=", 1)
            position += 1
        elif position + 1 < len(argv):
            value = argv[position + 1]
            position += 2
        else:
            raise HyperparameterError(f"hyperparameter --{name} has no value")
        values[name] = value
    return values


def _convert(name: str, raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in NONE_SPELLINGS):
        if HYPERPARAMETER_DEFAULTS[name] is not None:
            raise HyperparameterError(f"hyperparameter {name} needs a value")
        return None
    if name in INTEGER_HYPERPARAMETERS:
        try:
            number = float(raw)
        except (TypeError, ValueError):
            number = float("nan")
        if not number.is_integer():
            raise HyperparameterError(f"hyperparameter {name} must be an integer, got {raw!r}")
        value: Any = int(number)
    elif name in FLOAT_HYPERPARAMETERS:
        try:
            value = float(raw)
        except (TypeError, ValueError) as error:
            raise HyperparameterError(f"hyperparameter {name} must be a number, got {raw!r}") from error
    else:
        value = str(raw).strip()
    if name in POSITIVE_HYPERPARAMETERS and not value > 0:
        raise HyperparameterError(f"hyperparameter {name} must be positive, got {raw!r}")
    return value


def _supplied_hyperparameters(argv: list[str], hyperparameters_json: str) -> dict[str, Any]:
    try:
        from_environment = json.loads(hyperparameters_json or "{}")
    except json.JSONDecodeError as error:
        raise HyperparameterError(f"SM_HPS is not valid JSON: {error.msg}") from error
    if not isinstance(from_environment, dict):
        raise HyperparameterError("SM_HPS must be a JSON object")
    supplied = {**from_environment, **_cli_hyperparameters(argv)}
    return {name: value for name, value in supplied.items() if not name.startswith(RESERVED_HYPERPARAMETER_PREFIX)}


def check_dataset_hyperparameters(argv: list[str], hyperparameters_json: str, spec: DatasetSpec) -> None:
    supplied = _supplied_hyperparameters(argv, hyperparameters_json)
    expected = {"target": spec.target, "problem_type": spec.problem_type}
    for name in DATASET_HYPERPARAMETERS:
        if name in supplied and str(supplied[name]) != expected[name]:
            raise HyperparameterError(
                f"hyperparameter {name}={supplied[name]!r} disagrees with {CONFIG_FILE_NAME} ({expected[name]!r})"
            )


def parse_hyperparameters(argv: list[str], hyperparameters_json: str) -> dict[str, Any]:
    """Defaults, overridden by SM_HPS, overridden by the command line; typed and checked."""
    supplied = _supplied_hyperparameters(argv, hyperparameters_json)
    supplied = {name: value for name, value in supplied.items() if name not in DATASET_HYPERPARAMETERS}
    unknown = sorted(set(supplied) - set(HYPERPARAMETER_DEFAULTS))
    if unknown:
        raise HyperparameterError(
            f"unknown hyperparameter(s) {', '.join(map(repr, unknown))}; known: {', '.join(HYPERPARAMETER_DEFAULTS)}"
        )
    hyperparameters = dict(HYPERPARAMETER_DEFAULTS)
    for name, raw in supplied.items():
        hyperparameters[name] = _convert(name, raw)
    if hyperparameters["estimator"] not in ESTIMATORS:
        raise HyperparameterError(
            f"unknown estimator {hyperparameters['estimator']!r}; choose one of {', '.join(ESTIMATORS)}"
        )
    if hyperparameters["class_weight"] is not None and hyperparameters["class_weight"] not in CLASS_WEIGHTS:
        raise HyperparameterError(f"class_weight must be 'balanced' or none, got {hyperparameters['class_weight']!r}")
    return hyperparameters


# --- data -------------------------------------------------------------------------------


def _channel_file(channel: str, directory: Path) -> Path | None:
    if not directory.is_dir():
        return None
    named = directory / SPLIT_FILE_NAME
    if named.is_file():
        return named
    csv_files = sorted(directory.glob("*.csv"))
    return csv_files[0] if len(csv_files) == 1 else None


def read_channel(channel: str, directory: Path, spec: DatasetSpec, require_target: bool) -> pd.DataFrame:
    path = _channel_file(channel, directory)
    if path is None:
        raise ChannelMissingError(f"{channel} channel has no {SPLIT_FILE_NAME} in {directory}")
    text_columns = {feature["name"]: str for feature in spec.features if feature["type"] in serving.CATEGORICAL_COLUMN_TYPES}
    if spec.is_classification:
        text_columns[spec.target] = str
    try:
        # Correctly rounded floats, as a JSON request's are: pandas before 3.1 parses some decimals one
        # ulp off by default, and the served predictions would then differ from predictions.csv.
        frame = pd.read_csv(path, dtype=text_columns, float_precision=serving.CSV_FLOAT_PRECISION)
    except pd.errors.EmptyDataError as error:
        raise ChannelUnreadableError(f"{channel} channel {path.name} is empty") from error
    except pd.errors.ParserError as error:
        raise ChannelUnreadableError(f"{channel} channel {path.name} is not valid CSV: {error}") from error
    except UnicodeDecodeError as error:
        raise ChannelUnreadableError(f"{channel} channel {path.name} is not UTF-8 text") from error
    if require_target and spec.target not in frame.columns:
        raise ColumnMissingError(f"target column {spec.target!r} missing from {channel} channel")
    if frame.empty:
        raise ChannelUnreadableError(f"{channel} channel {path.name} has no rows")
    return frame


def target_values(frame: pd.DataFrame, spec: DatasetSpec, channel: str) -> np.ndarray:
    column = frame[spec.target]
    missing_count = int(column.isna().sum())
    if missing_count:
        raise TargetInvalidError(f"target column {spec.target!r} has {missing_count} missing value(s) in {channel} channel")
    if spec.is_classification:
        return column.astype(str).to_numpy(dtype=object)
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.isna().any():
        examples = [str(value) for value in column[numbers.isna()].unique()[: serving.MAX_EXAMPLE_VALUES_IN_MESSAGE]]
        raise TargetInvalidError(
            f"target column {spec.target!r} in {channel} channel must be numeric for regression; got {', '.join(map(repr, examples))}"
        )
    return numbers.to_numpy(dtype=float)


def check_classes(labels: np.ndarray, spec: DatasetSpec) -> None:
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise TargetInvalidError(f"target column {spec.target!r} has a single class {classes[0]!r} in train channel")
    if spec.problem_type == "binary" and len(classes) > 2:
        shown = ", ".join(map(repr, classes[:10]))
        raise TargetInvalidError(f"binary problem but target column {spec.target!r} has {len(classes)} classes in train channel: {shown}")


# --- model ------------------------------------------------------------------------------


def build_estimator(hyperparameters: dict[str, Any], spec: DatasetSpec) -> Any:
    estimator = hyperparameters["estimator"]
    seed = hyperparameters["seed"]
    class_weight = hyperparameters["class_weight"]
    if class_weight is not None and not spec.is_classification:
        raise HyperparameterError("class_weight applies to classification only")
    tree_options = {
        name: hyperparameters[name] for name in ("max_depth", "min_samples_leaf") if hyperparameters[name] is not None
    }
    if estimator == "gradient_boosting":
        options = {"max_iter": hyperparameters["max_iter"], "learning_rate": hyperparameters["learning_rate"], "random_state": seed, **tree_options}
        if spec.is_classification:
            return HistGradientBoostingClassifier(class_weight=class_weight, **options)
        return HistGradientBoostingRegressor(**options)
    if estimator == "random_forest":
        options = {"n_estimators": hyperparameters["n_estimators"], "random_state": seed, "n_jobs": -1, **tree_options}
        if spec.is_classification:
            return RandomForestClassifier(class_weight=class_weight, **options)
        return RandomForestRegressor(**options)
    if spec.is_classification:
        return LogisticRegression(C=hyperparameters["C"], class_weight=class_weight, max_iter=LINEAR_SOLVER_MAX_ITERATIONS)
    return Ridge(alpha=hyperparameters["alpha"])


def build_pipeline(hyperparameters: dict[str, Any], spec: DatasetSpec) -> Pipeline:
    numeric = serving.numeric_feature_names(spec.features)
    categorical = serving.categorical_feature_names(spec.features)
    # Trees are indifferent to feature scale; penalised linear models are not.
    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if hyperparameters["estimator"] == "linear":
        numeric_steps.append(("scale", StandardScaler()))
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(("numeric", Pipeline(numeric_steps), numeric))
    if categorical:
        categorical_steps = [
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False, max_categories=MAX_CATEGORIES_PER_FEATURE)),
        ]
        transformers.append(("categorical", Pipeline(categorical_steps), categorical))
    preprocess = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
    return Pipeline([("preprocess", preprocess), ("model", build_estimator(hyperparameters, spec))])


# --- metrics ----------------------------------------------------------------------------


def _metric_or_none(compute: Callable[[], float]) -> float | None:
    try:
        value = float(compute())
    except ValueError:
        # Undefined on this split (e.g. a class absent from the validation rows): not reported.
        return None
    return value if np.isfinite(value) else None


def validation_metrics(pipeline: Pipeline, frame: pd.DataFrame, labels: np.ndarray, spec: DatasetSpec) -> dict[str, float]:
    predictions, probabilities, classes = serving.score(pipeline, frame, spec.problem_type)
    metrics: dict[str, float | None]
    if probabilities is None or classes is None:
        metrics = {
            "rmse": _metric_or_none(lambda: np.sqrt(mean_squared_error(labels, predictions))),
            "mae": _metric_or_none(lambda: mean_absolute_error(labels, predictions)),
            "r2": _metric_or_none(lambda: r2_score(labels, predictions)),
        }
    elif spec.problem_type == "binary":
        positive = classes[1]
        metrics = {
            "roc_auc": _metric_or_none(lambda: roc_auc_score(labels == positive, probabilities[:, 1])),
            "accuracy": _metric_or_none(lambda: accuracy_score(labels, predictions)),
            "f1": _metric_or_none(lambda: f1_score(labels, predictions, pos_label=positive)),
            "log_loss": _metric_or_none(lambda: log_loss(labels, probabilities, labels=classes)),
        }
    else:
        metrics = {
            "accuracy": _metric_or_none(lambda: accuracy_score(labels, predictions)),
            "f1_macro": _metric_or_none(lambda: f1_score(labels, predictions, average="macro")),
            "log_loss": _metric_or_none(lambda: log_loss(labels, probabilities, labels=classes)),
            "roc_auc_ovr": _metric_or_none(
                lambda: roc_auc_score(labels, probabilities, multi_class="ovr", labels=classes)
            ),
        }
    return {name: value for name, value in metrics.items() if value is not None}


def metric_definitions(problem_type: str) -> list[dict[str, str]]:
    """SageMaker MetricDefinitions matching the validation lines this script prints."""
    names = REGRESSION_METRICS if problem_type == "regression" else CLASSIFICATION_METRICS[problem_type]
    return [{"Name": f"validation:{name}", "Regex": f"validation:{name}=([-+0-9.eE]+);"} for name in names]


# --- the champion and the reference holdout ---------------------------------------------


@dataclass(frozen=True)
class Champion:
    pipeline: Any
    features: list[dict[str, str]]
    problem_type: str


def load_champion(directory: Path) -> Champion | None:
    """The serving version from its model.tar.gz in the champion channel; None without one.
    Only model.joblib and metadata.json are read from the archive, nothing is extracted."""
    if not directory.is_dir():
        return None
    archives = sorted(directory.rglob(MODEL_ARCHIVE_NAME))
    if not archives:
        return None
    try:
        with tarfile.open(archives[0], mode="r:gz") as archive:
            members = {member.name.removeprefix("./"): member for member in archive.getmembers() if member.isfile()}
            model_member = members.get(serving.MODEL_FILE_NAME)
            metadata_member = members.get(serving.METADATA_FILE_NAME)
            if model_member is None or metadata_member is None:
                raise ChampionUnreadableError(
                    f"the champion's {MODEL_ARCHIVE_NAME} lacks {serving.MODEL_FILE_NAME} or {serving.METADATA_FILE_NAME}"
                )
            metadata = json.loads(archive.extractfile(metadata_member).read())  # type: ignore[union-attr]
            pipeline = joblib.load(io.BytesIO(archive.extractfile(model_member).read()))  # type: ignore[union-attr]
    except (tarfile.TarError, OSError, ValueError, EOFError) as error:
        raise ChampionUnreadableError(f"the champion's {MODEL_ARCHIVE_NAME} cannot be loaded: {error}") from error
    return Champion(pipeline=pipeline, features=metadata["features"], problem_type=metadata["problem_type"])


def score_with(model: Any, features: list[dict[str, str]], frame: pd.DataFrame, problem_type: str, source: str) -> pd.DataFrame:
    prepared = serving.prepare_features(frame, features, source)
    return serving.predictions_frame(*serving.score(model, prepared, problem_type))


def read_reference_holdout(directory: Path, spec: DatasetSpec, train_frame: pd.DataFrame) -> pd.DataFrame | None:
    """Every CSV the reference channel delivered, less rows with an empty target and rows that
    are also training rows (a retraining upload carries earlier rows, and a model is not to be
    graded on rows it learned)."""
    if not directory.is_dir():
        return None
    paths = sorted(path for path in directory.rglob("*.csv") if path.is_file())
    if not paths:
        return None
    frames = [read_channel(REFERENCE_CHANNEL, path.parent, spec, require_target=True) for path in paths]
    frame = pd.concat(frames, ignore_index=True)
    frame = frame[frame[spec.target].notna()]
    columns = [feature["name"] for feature in spec.features] + [spec.target]
    if all(column in train_frame.columns for column in columns):
        seen = set(pd.util.hash_pandas_object(train_frame[columns].astype(str), index=False).to_numpy())
        hashes = pd.util.hash_pandas_object(frame[columns].astype(str), index=False).to_numpy()
        frame = frame[[value not in seen for value in hashes]]
    return frame.reset_index(drop=True) if len(frame) else None


def write_champion_comparison(
    environment: TrainingEnvironment,
    spec: DatasetSpec,
    pipeline: Pipeline,
    train_frame: pd.DataFrame,
    test_frame: pd.DataFrame | None,
) -> dict[str, int]:
    """Score the champion on the test rows, and both models on the reference holdout."""
    champion = load_champion(environment.channel_dirs[CHAMPION_CHANNEL])
    if champion is None:
        return {}
    if champion.problem_type != spec.problem_type:
        raise ChampionUnreadableError(
            f"the champion solves a {champion.problem_type} problem, the config a {spec.problem_type} one"
        )
    output = environment.output_data_dir
    output.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    try:
        if test_frame is not None:
            score_with(champion.pipeline, champion.features, test_frame, spec.problem_type, "test channel (champion)").to_csv(
                output / CHAMPION_PREDICTIONS_FILE_NAME, index=False
            )
            counts["champion_test_rows"] = len(test_frame)
        reference = read_reference_holdout(environment.channel_dirs[REFERENCE_CHANNEL], spec, train_frame)
        if reference is not None:
            score_with(pipeline, spec.features, reference, spec.problem_type, "reference channel").to_csv(
                output / REFERENCE_PREDICTIONS_FILE_NAME, index=False
            )
            score_with(
                champion.pipeline, champion.features, reference, spec.problem_type, "reference channel (champion)"
            ).to_csv(output / CHAMPION_REFERENCE_PREDICTIONS_FILE_NAME, index=False)
            pd.DataFrame({LABEL_COLUMN: reference[spec.target].to_numpy()}).to_csv(
                output / REFERENCE_LABELS_FILE_NAME, index=False
            )
            counts["reference_rows"] = len(reference)
    except serving.InvalidRequestError as error:
        raise ChampionUnreadableError(f"the champion cannot score the rows: {error}") from error
    return counts


# --- the run ----------------------------------------------------------------------------


def write_model_artifact(
    model_dir: Path, pipeline: Pipeline, metadata: dict[str, Any], source_dir: Path
) -> None:
    code_dir = model_dir / CODE_DIR_NAME
    code_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, model_dir / serving.MODEL_FILE_NAME)
    (model_dir / serving.METADATA_FILE_NAME).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    shutil.copyfile(source_dir / INFERENCE_FILE_NAME, code_dir / INFERENCE_FILE_NAME)
    shutil.copyfile(source_dir / CONFIG_FILE_NAME, code_dir / CONFIG_FILE_NAME)


def evaluate_and_write(
    environment: TrainingEnvironment, spec: DatasetSpec, model: Any, train_frame: pd.DataFrame
) -> tuple[dict[str, float], int, int, dict[str, int]]:
    """After fitting, whichever trainer fitted `model`: the validation metric lines, the test
    split's predictions.csv, and the champion comparison. Returns (validation metrics,
    validation rows, test rows, comparison rows)."""
    metrics: dict[str, float] = {}
    validation_rows = 0
    if _channel_file(VALIDATION_CHANNEL, environment.channel_dirs[VALIDATION_CHANNEL]) is not None:
        validation_frame = read_channel(VALIDATION_CHANNEL, environment.channel_dirs[VALIDATION_CHANNEL], spec, require_target=True)
        validation_rows = len(validation_frame)
        metrics = validation_metrics(
            model,
            serving.prepare_features(validation_frame, spec.features, f"{VALIDATION_CHANNEL} channel"),
            target_values(validation_frame, spec, VALIDATION_CHANNEL),
            spec,
        )
        for name, value in metrics.items():
            print(f"validation:{name}={value:.6f};", flush=True)
    else:
        print("no validation channel: validation metrics not computed", flush=True)

    test_rows = 0
    test_frame = None
    if _channel_file(TEST_CHANNEL, environment.channel_dirs[TEST_CHANNEL]) is not None:
        test_frame = read_channel(TEST_CHANNEL, environment.channel_dirs[TEST_CHANNEL], spec, require_target=False)
        test_rows = len(test_frame)
        scored = serving.score(model, serving.prepare_features(test_frame, spec.features, f"{TEST_CHANNEL} channel"), spec.problem_type)
        environment.output_data_dir.mkdir(parents=True, exist_ok=True)
        serving.predictions_frame(*scored).to_csv(environment.output_data_dir / PREDICTIONS_FILE_NAME, index=False)
    else:
        print(f"no test channel: {PREDICTIONS_FILE_NAME} not written", flush=True)
    comparison_rows = write_champion_comparison(environment, spec, model, train_frame, test_frame)
    return metrics, validation_rows, test_rows, comparison_rows


def train(argv: list[str], environment: TrainingEnvironment) -> dict[str, Any]:
    source_dir = Path(__file__).resolve().parent
    spec = load_dataset_spec(source_dir / CONFIG_FILE_NAME)
    hyperparameters = parse_hyperparameters(argv, environment.hyperparameters_json)
    check_dataset_hyperparameters(argv, environment.hyperparameters_json, spec)
    if not (source_dir / INFERENCE_FILE_NAME).is_file():
        raise ConfigInvalidError(f"{INFERENCE_FILE_NAME} not found beside the training script ({source_dir})")

    train_frame = read_channel(TRAIN_CHANNEL, environment.channel_dirs[TRAIN_CHANNEL], spec, require_target=True)
    train_labels = target_values(train_frame, spec, TRAIN_CHANNEL)
    if spec.is_classification:
        check_classes(train_labels, spec)
    train_features = serving.prepare_features(train_frame, spec.features, f"{TRAIN_CHANNEL} channel")

    pipeline = build_pipeline(hyperparameters, spec)
    pipeline.fit(train_features, train_labels)

    metrics, validation_rows, test_rows, comparison_rows = evaluate_and_write(environment, spec, pipeline, train_frame)

    classes = [str(label) for label in pipeline.classes_] if spec.is_classification else None
    metadata = {
        "problem_type": spec.problem_type,
        "target": spec.target,
        "features": spec.features,
        "numeric_features": serving.numeric_feature_names(spec.features),
        "categorical_features": serving.categorical_feature_names(spec.features),
        "classes": classes,
        "positive_class": classes[1] if spec.problem_type == "binary" and classes else None,
        "estimator": type(pipeline.named_steps["model"]).__name__,
        "hyperparameters": hyperparameters,
        "validation_metrics": metrics,
        "training_rows": len(train_frame),
        "validation_rows": validation_rows,
        "test_rows": test_rows,
        **comparison_rows,
        "training_job_name": os.environ.get("TRAINING_JOB_NAME"),
        "sklearn_version": sklearn.__version__,
        "pandas_version": pd.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
    }
    write_model_artifact(environment.model_dir, pipeline, metadata, source_dir)
    return metadata


def _fail(output_dir: Path, reason: str, exit_code: int) -> int:
    one_line = " ".join(reason.split())[:MAX_FAILURE_REASON_CHARS]
    print(f"training failed: {one_line}", file=sys.stderr, flush=True)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / FAILURE_FILE_NAME).write_text(one_line + "\n", encoding="utf-8")
    except OSError as error:
        print(f"cannot write the failure reason to {output_dir}: {error}", file=sys.stderr, flush=True)
    return exit_code


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    environment = TrainingEnvironment.from_environ(os.environ)
    try:
        metadata = train(arguments, environment)
    except (TrainingError, serving.InvalidRequestError) as error:
        return _fail(environment.output_dir, str(error), EXIT_CODE_DATA_ERROR)
    except Exception as error:  # noqa: BLE001 - whatever breaks, SageMaker must get a reason
        traceback.print_exc()
        return _fail(environment.output_dir, f"unexpected training error: {type(error).__name__}: {error}", EXIT_CODE_UNEXPECTED_ERROR)
    summary = {key: metadata[key] for key in ("problem_type", "estimator", "training_rows", "validation_metrics")}
    print(f"training complete: {json.dumps(summary)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
