"""The built-in XGBoost trainer under the script-mode contract the scikit-learn trainer keeps
(channels, hyperparameters, SM_MODEL_DIR, predictions.csv, metric lines, failure reasons), run as
the CDK app bundles it in the XGBoost image's interpreter, on one and on several instances; its
model served by the image's serving stack."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

from tests.support.xgboost_training import XGBoostRun, run_xgboost_training, served
from tests.training.test_train_and_serve import breast_cancer, deterministic_splits, diabetes, penguins

FAST_ROUNDS = ["--num_round", "40", "--eta", "0.2"]
# Distributed histogram training cuts its bins from sketches merged across hosts, not from all
# rows at once, so two hosts may split a few nodes differently from one.
DISTRIBUTED_METRIC_TOLERANCE = 0.02


def run(tmp_path: Path, dataset, instance_count: int = 1, arguments: list[str] = FAST_ROUNDS) -> XGBoostRun:
    frame, config = dataset()
    return run_xgboost_training(tmp_path, deterministic_splits(frame), config, arguments, instance_count)


@pytest.fixture(scope="module")
def breast_cancer_one_host(tmp_path_factory: pytest.TempPathFactory) -> XGBoostRun:
    return run(tmp_path_factory.mktemp("one"), breast_cancer).succeeded()


@pytest.fixture(scope="module")
def breast_cancer_two_hosts(tmp_path_factory: pytest.TempPathFactory) -> XGBoostRun:
    return run(tmp_path_factory.mktemp("two"), breast_cancer, instance_count=2).succeeded()


def served_predictions(xgboost_run: XGBoostRun, test: pd.DataFrame, features: list[str]) -> dict:
    with served(xgboost_run) as model:
        response = model.invoke(test[features].to_csv(index=False, header=False).encode(), "text/csv", "application/json")
    assert response.status == 200, response.body.decode()
    return json.loads(response.body)


def test_binary_model_follows_the_script_mode_contract(breast_cancer_one_host: XGBoostRun) -> None:
    run_ = breast_cancer_one_host
    for relative in ("xgboost-model.json", "metadata.json", "code/inference.py", "code/tabular_serving.py", "code/pipeline_config.json"):
        assert (run_.model_dir / relative).is_file(), relative
    metadata = run_.metadata()
    assert metadata["classes"] == ["0", "1"] and metadata["framework"] == "xgboost"
    assert metadata["hyperparameters"]["num_round"] == 40
    frame, _ = breast_cancer()
    splits = deterministic_splits(frame)
    assert metadata["training_rows"] == len(splits["train"])
    predictions = run_.predictions()
    assert list(predictions.columns) == ["prediction", "proba__0", "proba__1"]
    assert len(predictions) == len(splits["test"])
    assert roc_auc_score(splits["test"]["target"] == 1, predictions["proba__1"]) > 0.9
    assert "validation:roc_auc=" in run_.stdout()


def test_served_predictions_are_the_training_jobs(breast_cancer_one_host: XGBoostRun) -> None:
    # Given the model the job trained, When its endpoint scores the test rows, Then it answers what predictions.csv holds.
    frame, config = breast_cancer()
    test = deterministic_splits(frame)["test"]
    features = [column.name for column in config.dataset.feature_columns]
    answer = served_predictions(breast_cancer_one_host, test, features)
    written = breast_cancer_one_host.predictions()
    assert answer["predictions"] == list(written["prediction"])
    assert np.array_equal(np.asarray(answer["probabilities"]), written[["proba__0", "proba__1"]].to_numpy())


def test_two_hosts_train_one_model_that_scores_like_one_host(
    breast_cancer_one_host: XGBoostRun, breast_cancer_two_hosts: XGBoostRun
) -> None:
    # Given the training rows dealt out to two hosts, When they train together over the collective,
    # Then the first host writes one model of all the rows, which serves and scores like one host's.
    two = breast_cancer_two_hosts
    second = two.host_root(two.hosts[1])
    assert not any((second / "model").iterdir()), "only the first host writes the model"
    assert "Task 1 got rank 1" in two.processes[two.hosts[1]].stdout + two.processes[two.hosts[1]].stderr
    metadata = two.metadata()
    assert metadata["training_hosts"] == 2
    assert metadata["training_rows"] == breast_cancer_one_host.metadata()["training_rows"]
    one_metrics = breast_cancer_one_host.metadata()["validation_metrics"]
    for name, value in metadata["validation_metrics"].items():
        assert value == pytest.approx(one_metrics[name], abs=DISTRIBUTED_METRIC_TOLERANCE), name
    frame, config = breast_cancer()
    test = deterministic_splits(frame)["test"]
    features = [column.name for column in config.dataset.feature_columns]
    answer = served_predictions(two, test, features)
    assert answer["predictions"] == list(two.predictions()["prediction"])
    one_auc = roc_auc_score(test["target"] == 1, breast_cancer_one_host.predictions()["proba__1"])
    two_auc = roc_auc_score(test["target"] == 1, np.asarray(answer["probabilities"])[:, 1])
    assert two_auc == pytest.approx(one_auc, abs=DISTRIBUTED_METRIC_TOLERANCE)


def test_multiclass_with_categories_and_missing_values_on_two_hosts(tmp_path: Path) -> None:
    # Given penguins split across two hosts (categories, missing values), the hosts agree on the
    # category columns and classes before training.
    penguins_run = run(tmp_path, penguins, instance_count=2).succeeded()
    metadata = penguins_run.metadata()
    assert metadata["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert metadata["categories"]["island"] == ["Biscoe", "Dream", "Torgersen"]
    frame, _ = penguins()
    test = deterministic_splits(frame)["test"]
    predictions = penguins_run.predictions()
    assert list(predictions.columns) == ["prediction", "proba__Adelie", "proba__Chinstrap", "proba__Gentoo"]
    assert accuracy_score(test["species"], predictions["prediction"]) > 0.9


def test_regression(tmp_path: Path) -> None:
    diabetes_run = run(tmp_path, diabetes).succeeded()
    frame, _ = diabetes()
    test = deterministic_splits(frame)["test"]
    predictions = pd.read_csv(diabetes_run.first / "output" / "data" / "predictions.csv")
    assert list(predictions.columns) == ["prediction"]
    assert r2_score(test["target"], predictions["prediction"]) > 0.2
    assert "validation:rmse=" in diabetes_run.stdout()


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["--estimator", "random_forest"], "unknown hyperparameter(s) 'estimator'"),
        (["--num_round", "2.5"], "hyperparameter num_round must be an integer"),
        (["--subsample", "0"], "hyperparameter subsample must be in (0, 1]"),
        (["--tree_method", "exact"], "tree_method 'exact' is not one of hist, approx"),
    ],
)
def test_bad_hyperparameters_fail_with_a_reason(tmp_path: Path, arguments: list[str], reason: str) -> None:
    failed = run(tmp_path, breast_cancer, arguments=arguments)
    assert failed.processes[failed.hosts[0]].returncode == 2
    assert reason in failed.failure_reason()
