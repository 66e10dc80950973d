"""The training entry point run the way SageMaker script mode runs it (a subprocess of the
SageMaker scikit-learn image's interpreter and packages, with the SM_* environment and --name value
hyperparameters), then the model artifact served through its own code/inference.py by the image's
serving stack (sagemaker-containers' transformer and worker), on real public datasets."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn.datasets import load_diabetes
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

from functions.common.config import ColumnSchema, DatasetSchema, GateConfig, PipelineConfig
from functions.training import train as training_script
from mlops.local import runtime_env
from mlops.local.endpoints import ContainerResponse, ServedModel
from tests.support import datasets
from tests.support.runtimes import image_python

TRAINING_SOURCE_DIR = Path(__file__).resolve().parents[2] / "functions" / "training"
SPLIT_SEED = 20240601
VALIDATION_FRACTION = 0.15
TEST_FRACTION = 0.2
TRAINING_TIMEOUT_SECONDS = 120
ROUND_TRIP_ROWS = 12
FAST_BOOSTING_ARGS = ["--estimator", "gradient_boosting", "--max_iter", "50", "--learning_rate", "0.1"]


@dataclass
class TrainingRun:
    root: Path
    model_dir: Path
    output_dir: Path
    output_data_dir: Path
    splits: dict[str, pd.DataFrame]
    config: PipelineConfig
    process: subprocess.CompletedProcess[str]

    @property
    def feature_names(self) -> list[str]:
        return [column.name for column in self.config.dataset.feature_columns]

    def predictions(self) -> pd.DataFrame:
        return pd.read_csv(self.output_data_dir / "predictions.csv", dtype={"prediction": str})

    def failure_reason(self) -> str:
        return (self.output_dir / "failure").read_text(encoding="utf-8")


# --- datasets in the PipelineConfig shape ------------------------------------------------


def _config(columns: list[ColumnSchema], target: str, problem_type: str, primary_metric: str) -> PipelineConfig:
    return PipelineConfig(
        dataset=DatasetSchema(target=target, problem_type=problem_type, columns=columns),
        gates=GateConfig(primary_metric=primary_metric),
    )


def breast_cancer() -> tuple[pd.DataFrame, PipelineConfig]:
    frame = datasets.breast_cancer()
    columns = [ColumnSchema(name=name, type="float") for name in frame.columns if name != "target"]
    columns.append(ColumnSchema(name="target", type="category", categories=["0", "1"]))
    return frame, _config(columns, "target", "binary", "roc_auc")


def penguins() -> tuple[pd.DataFrame, PipelineConfig]:
    frame = load_penguins()
    columns = [
        ColumnSchema(name="species", type="category", categories=["Adelie", "Chinstrap", "Gentoo"]),
        ColumnSchema(name="island", type="category", categories=["Biscoe", "Dream", "Torgersen"]),
        ColumnSchema(name="bill_length_mm", type="float", nullable=True, max_null_fraction=0.05),
        ColumnSchema(name="bill_depth_mm", type="float", nullable=True, max_null_fraction=0.05),
        ColumnSchema(name="flipper_length_mm", type="float", nullable=True, max_null_fraction=0.05),
        ColumnSchema(name="body_mass_g", type="float", nullable=True, max_null_fraction=0.05),
        ColumnSchema(name="sex", type="category", categories=["female", "male"], nullable=True, max_null_fraction=0.05),
        ColumnSchema(name="year", type="integer"),
    ]
    return frame[[column.name for column in columns]], _config(columns, "species", "multiclass", "accuracy")


def diabetes() -> tuple[pd.DataFrame, PipelineConfig]:
    frame = load_diabetes(as_frame=True).frame
    columns = [ColumnSchema(name=name, type="float") for name in frame.columns]
    return frame, _config(columns, "target", "regression", "r2")


def deterministic_splits(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    order = np.random.default_rng(SPLIT_SEED).permutation(len(frame))
    test_rows = int(len(frame) * TEST_FRACTION)
    validation_rows = int(len(frame) * VALIDATION_FRACTION)
    shuffled = frame.iloc[order].reset_index(drop=True)
    return {
        "test": shuffled.iloc[:test_rows].reset_index(drop=True),
        "validation": shuffled.iloc[test_rows : test_rows + validation_rows].reset_index(drop=True),
        "train": shuffled.iloc[test_rows + validation_rows :].reset_index(drop=True),
    }


# --- running the entry point the way SageMaker does ---------------------------------------


def run_training(
    root: Path,
    frame: pd.DataFrame,
    config: PipelineConfig,
    arguments: list[str],
    hyperparameters_json: str = "{}",
    train_columns_dropped: tuple[str, ...] = (),
) -> TrainingRun:
    source_dir = root / "source"
    source_dir.mkdir(parents=True)
    for file_name in ("train.py", "inference.py"):
        shutil.copyfile(TRAINING_SOURCE_DIR / file_name, source_dir / file_name)
    (source_dir / "pipeline_config.json").write_text(config.to_json(), encoding="utf-8")

    splits = deterministic_splits(frame)
    environment = {name: value for name, value in runtime_env.clean_environment().items() if not name.startswith("SM_")}
    for split_name, split in splits.items():
        channel_dir = root / "input" / "data" / split_name
        channel_dir.mkdir(parents=True)
        written = split.drop(columns=list(train_columns_dropped)) if split_name == "train" else split
        written.to_csv(channel_dir / "data.csv", index=False)
        environment[f"SM_CHANNEL_{split_name.upper()}"] = str(channel_dir)
    environment.update(
        SM_MODEL_DIR=str(root / "model"),
        SM_OUTPUT_DIR=str(root / "output"),
        SM_OUTPUT_DATA_DIR=str(root / "output" / "data"),
        SM_HPS=hyperparameters_json,
    )
    process = subprocess.run(
        [str(image_python()), "train.py", *arguments],
        cwd=source_dir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TRAINING_TIMEOUT_SECONDS,
        check=False,
    )
    return TrainingRun(
        root=root,
        model_dir=root / "model",
        output_dir=root / "output",
        output_data_dir=root / "output" / "data",
        splits=splits,
        config=config,
        process=process,
    )


def succeeded(run: TrainingRun) -> TrainingRun:
    assert run.process.returncode == 0, run.process.stdout + run.process.stderr
    return run


SERVING_ENVIRONMENT = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}


@contextmanager
def served(run: TrainingRun) -> Iterator[ServedModel]:
    """The run's model directory served as the image serves /opt/ml/model."""
    model = ServedModel({"Environment": SERVING_ENVIRONMENT}, run.root, run.root / "container.log")
    try:
        yield model
    finally:
        model.close()


def invoke(model: ServedModel, body: str | bytes, content_type: str, accept: str | None = "application/json") -> str:
    response = model.invoke(body.encode("utf-8") if isinstance(body, str) else body, content_type, accept)
    assert response.status == 200, response.body.decode()
    assert media_type(response) == (accept or "application/json")
    return response.body.decode("utf-8")


def media_type(response: ContainerResponse) -> str:
    return response.content_type.split(";", 1)[0].strip()


@pytest.fixture(scope="module")
def breast_cancer_run(tmp_path_factory: pytest.TempPathFactory) -> TrainingRun:
    frame, config = breast_cancer()
    return succeeded(run_training(tmp_path_factory.mktemp("breast_cancer"), frame, config, FAST_BOOSTING_ARGS))


@pytest.fixture(scope="module")
def penguins_run(tmp_path_factory: pytest.TempPathFactory) -> TrainingRun:
    frame, config = penguins()
    return succeeded(run_training(tmp_path_factory.mktemp("penguins"), frame, config, FAST_BOOSTING_ARGS))


@pytest.fixture(scope="module")
def diabetes_run(tmp_path_factory: pytest.TempPathFactory) -> TrainingRun:
    frame, config = diabetes()
    return succeeded(run_training(tmp_path_factory.mktemp("diabetes"), frame, config, FAST_BOOSTING_ARGS))


@pytest.fixture(scope="module")
def penguins_model(penguins_run: TrainingRun) -> Iterator[ServedModel]:
    with served(penguins_run) as model:
        yield model


# --- training -----------------------------------------------------------------------------


def assert_model_artifact(run: TrainingRun) -> dict:
    for relative in ("model.joblib", "metadata.json", "code/inference.py", "code/pipeline_config.json"):
        assert (run.model_dir / relative).is_file(), relative
    metadata = json.loads((run.model_dir / "metadata.json").read_text(encoding="utf-8"))
    assert [feature["name"] for feature in metadata["features"]] == run.feature_names
    assert metadata["training_rows"] == len(run.splits["train"])
    assert metadata["target"] == run.config.dataset.target
    return metadata


def test_breast_cancer_binary_model_scores_the_test_split(breast_cancer_run: TrainingRun) -> None:
    metadata = assert_model_artifact(breast_cancer_run)
    assert metadata["classes"] == ["0", "1"]
    assert metadata["hyperparameters"]["max_iter"] == 50
    assert metadata["estimator"] == "HistGradientBoostingClassifier"

    predictions = breast_cancer_run.predictions()
    test = breast_cancer_run.splits["test"]
    assert list(predictions.columns) == ["prediction", "proba__0", "proba__1"]
    assert len(predictions) == len(test)
    assert roc_auc_score(test["target"] == 1, predictions["proba__1"]) > 0.9
    assert np.allclose(predictions[["proba__0", "proba__1"]].sum(axis=1), 1.0)
    assert "validation:roc_auc=" in breast_cancer_run.process.stdout


def test_training_is_deterministic(breast_cancer_run: TrainingRun, tmp_path: Path) -> None:
    # Given the same data, config and hyperparameters, When trained again, Then the predictions match exactly.
    frame, config = breast_cancer()
    again = succeeded(run_training(tmp_path, frame, config, FAST_BOOSTING_ARGS))
    assert (again.output_data_dir / "predictions.csv").read_bytes() == (
        breast_cancer_run.output_data_dir / "predictions.csv"
    ).read_bytes()


def test_penguins_multiclass_model_handles_categories_and_missing_values(penguins_run: TrainingRun) -> None:
    metadata = assert_model_artifact(penguins_run)
    assert metadata["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert metadata["categorical_features"] == ["island", "sex"]

    predictions = penguins_run.predictions()
    test = penguins_run.splits["test"]
    assert test.drop(columns="species").isna().any().any(), "the test split should exercise missing values"
    assert list(predictions.columns) == ["prediction", "proba__Adelie", "proba__Chinstrap", "proba__Gentoo"]
    assert len(predictions) == len(test)
    assert accuracy_score(test["species"], predictions["prediction"]) > 0.9
    assert "validation:accuracy=" in penguins_run.process.stdout


def test_diabetes_regression_model_scores_the_test_split(diabetes_run: TrainingRun) -> None:
    metadata = assert_model_artifact(diabetes_run)
    assert metadata["classes"] is None

    predictions = pd.read_csv(diabetes_run.output_data_dir / "predictions.csv")
    test = diabetes_run.splits["test"]
    assert list(predictions.columns) == ["prediction"]
    assert len(predictions) == len(test)
    assert r2_score(test["target"], predictions["prediction"]) > 0.2
    assert "validation:rmse=" in diabetes_run.process.stdout


@pytest.mark.parametrize(
    ("estimator", "estimator_class"),
    [("random_forest", "RandomForestClassifier"), ("linear", "LogisticRegression")],
)
def test_other_estimators_train_from_sm_hps(estimator: str, estimator_class: str, tmp_path: Path) -> None:
    # Given hyperparameters only in SM_HPS (with SageMaker's own sagemaker_* entries among them)
    frame, config = penguins()
    hyperparameters = {"estimator": estimator, "n_estimators": 40, "sagemaker_program": "train.py"}
    run = succeeded(run_training(tmp_path, frame, config, [], hyperparameters_json=json.dumps(hyperparameters)))
    metadata = assert_model_artifact(run)
    assert metadata["estimator"] == estimator_class
    assert accuracy_score(run.splits["test"]["species"], run.predictions()["prediction"]) > 0.9


def test_missing_target_column_fails_with_a_reason(tmp_path: Path) -> None:
    frame, config = breast_cancer()
    run = run_training(tmp_path, frame, config, FAST_BOOSTING_ARGS, train_columns_dropped=("target",))
    assert run.process.returncode != 0
    assert run.failure_reason().strip() == "target column 'target' missing from train channel"
    assert "Traceback" not in run.process.stderr
    assert not (run.model_dir / "model.joblib").exists()


def test_unknown_estimator_fails_with_a_reason(tmp_path: Path) -> None:
    frame, config = penguins()
    run = run_training(tmp_path, frame, config, ["--estimator", "xgboost"])
    assert run.process.returncode != 0
    reason = run.failure_reason()
    assert "'xgboost'" in reason and "gradient_boosting" in reason
    assert reason.count("\n") == 1
    assert "Traceback" not in run.process.stderr


def test_hyperparameters_command_line_overrides_sm_hps() -> None:
    hyperparameters = training_script.parse_hyperparameters(
        ["--max_iter", "30", "--learning_rate=0.05"],
        json.dumps({"max_iter": 500, "max_depth": 3, "sagemaker_submit_directory": "s3://bucket/source.tar.gz"}),
    )
    assert hyperparameters["max_iter"] == 30
    assert hyperparameters["learning_rate"] == 0.05
    assert hyperparameters["max_depth"] == 3


@pytest.mark.parametrize(
    ("arguments", "named"),
    [(["--max_iter", "many"], "max_iter"), (["--max_iters", "5"], "max_iters"), (["--learning_rate", "-1"], "learning_rate")],
)
def test_bad_hyperparameters_are_named(arguments: list[str], named: str) -> None:
    with pytest.raises(training_script.HyperparameterError, match=named):
        training_script.parse_hyperparameters(arguments, "{}")


# --- serving, through the image's serving stack ------------------------------------------


def feature_rows(run: TrainingRun, rows: int | None = ROUND_TRIP_ROWS) -> pd.DataFrame:
    return run.splits["test"].iloc[:rows][run.feature_names]


def csv_body(rows: pd.DataFrame, header: bool = False) -> str:
    return rows.to_csv(index=False, header=header)


def json_instances(rows: pd.DataFrame) -> list[dict]:
    return [{name: (None if pd.isna(value) else value) for name, value in record.items()} for record in rows.to_dict("records")]


def written_predictions(run: TrainingRun) -> pd.DataFrame:
    """predictions.csv as written: its floats read back exactly (shortest repr round trip)."""
    return pd.read_csv(run.output_data_dir / "predictions.csv", dtype={"prediction": str}, float_precision="round_trip")


def assert_matches_training_predictions(response: dict, run: TrainingRun, rows: int = ROUND_TRIP_ROWS) -> None:
    expected = written_predictions(run).iloc[:rows]
    if run.config.dataset.problem_type == "regression":
        assert "probabilities" not in response
        assert response["predictions"] == expected["prediction"].astype(float).tolist()
        return
    assert response["predictions"] == expected["prediction"].tolist()
    assert response["classes"] == [name.removeprefix("proba__") for name in expected.columns[1:]]
    assert response["probabilities"] == expected.iloc[:, 1:].to_numpy().tolist()


@pytest.mark.parametrize("run_fixture", ["breast_cancer_run", "penguins_run", "diabetes_run"])
def test_served_artifact_matches_training_predictions(run_fixture: str, request: pytest.FixtureRequest) -> None:
    # Every test row, sent as CSV and as JSON, is predicted exactly as the training job wrote it.
    run: TrainingRun = request.getfixturevalue(run_fixture)
    rows = feature_rows(run, rows=None)
    with served(run) as model:
        from_csv = json.loads(invoke(model, csv_body(rows), "text/csv"))
        from_json = json.loads(invoke(model, json.dumps({"instances": json_instances(rows)}), "application/json"))

    assert_matches_training_predictions(from_csv, run, rows=len(rows))
    assert_matches_training_predictions(from_json, run, rows=len(rows))


def test_served_request_shapes_agree(penguins_run: TrainingRun, penguins_model: ServedModel) -> None:
    rows = feature_rows(penguins_run)
    records = json_instances(rows)
    value_rows = [[record[name] for name in penguins_run.feature_names] for record in records]

    bodies = [
        (csv_body(rows, header=True).encode("utf-8"), "text/csv; charset=utf-8"),
        (json.dumps(records), "application/json"),
        (json.dumps({"instances": value_rows}), "application/json"),
    ]
    responses = [json.loads(invoke(penguins_model, body, content_type)) for body, content_type in bodies]
    for response in responses:
        assert_matches_training_predictions(response, penguins_run)


def test_served_csv_response_lists_prediction_then_probabilities(penguins_run: TrainingRun, penguins_model: ServedModel) -> None:
    body = invoke(penguins_model, csv_body(feature_rows(penguins_run)), "text/csv", accept="text/csv")
    response = pd.read_csv(io.StringIO(body), header=None, dtype={0: str}, float_precision="round_trip")
    expected = written_predictions(penguins_run).iloc[:ROUND_TRIP_ROWS]
    assert response[0].tolist() == expected["prediction"].tolist()
    assert response.iloc[:, 1:].to_numpy().tolist() == expected.iloc[:, 1:].to_numpy().tolist()


def test_served_json_answer_without_accept_is_json(penguins_run: TrainingRun, penguins_model: ServedModel) -> None:
    response = penguins_model.invoke(csv_body(feature_rows(penguins_run)).encode(), "text/csv", None)
    assert (response.status, media_type(response)) == (200, "application/json")
    assert_matches_training_predictions(json.loads(response.body), penguins_run)


def test_served_model_tolerates_unseen_categories(penguins_model: ServedModel) -> None:
    instance = {"island": "Atlantis", "bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181,
                "body_mass_g": 3750, "sex": None, "year": 2009}
    response = json.loads(invoke(penguins_model, json.dumps({"instances": [instance]}), "application/json"))
    assert response["predictions"][0] in response["classes"]


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "named"),
    [
        (json.dumps({"instances": [{"bill_length_mm": 39.1}]}), "application/json", None, 400, "'island'.*'year'"),
        ("Biscoe,39.1,18.7,181\n", "text/csv", None, 400, "expected 7"),
        (
            json.dumps({"instances": [{"island": "Biscoe", "bill_length_mm": "long", "bill_depth_mm": 18.7,
                                       "flipper_length_mm": 181, "body_mass_g": 3750, "sex": "male", "year": 2009}]}),
            "application/json",
            None,
            400,
            "'bill_length_mm'.*'long'",
        ),
        ("not json", "application/json", None, 400, "not valid JSON"),
        ("island=Biscoe", "application/x-www-form-urlencoded", None, 415, "unsupported content type"),
        ("Biscoe,39.1,18.7,181,3750,male,2009\n", "text/csv", "application/x-parquet", 406, "unsupported accept type"),
    ],
)
def test_served_model_refuses_bad_requests_with_a_4xx_naming_the_problem(
    body: str, content_type: str, accept: str | None, status: int, named: str, penguins_model: ServedModel
) -> None:
    response = penguins_model.invoke(body.encode(), content_type, accept)
    assert response.status == status
    assert media_type(response) == "application/json"
    assert re.search(named, json.loads(response.body)["message"])


def test_only_the_models_own_failure_is_a_5xx(penguins_run: TrainingRun, tmp_path: Path) -> None:
    # Given the artifact with an estimator that was never fitted, When a well-formed request arrives,
    # Then the model's own failure is the container's 500.
    broken = tmp_path / "broken"
    shutil.copytree(penguins_run.model_dir, broken / "model")
    subprocess.run(
        [str(image_python()), "-c", "import joblib, sys; from sklearn.linear_model import LogisticRegression; "
         "joblib.dump(LogisticRegression(), sys.argv[1])", str(broken / "model" / "model.joblib")],
        env=runtime_env.clean_environment(),
        check=True,
    )
    model = ServedModel({"Environment": SERVING_ENVIRONMENT}, broken, broken / "container.log")
    try:
        response = model.invoke(csv_body(feature_rows(penguins_run)).encode(), "text/csv", "application/json")
    finally:
        model.close()
    assert response.status == 500
