"""Metrics computed with numpy agree with scikit-learn on real models' predictions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from functions.common.model_metrics import (
    ModelPredictions,
    PredictionsMismatchError,
    canonical_label,
    compute_metrics,
    expected_calibration_error,
    positive_class_for,
    prepare_rows,
)
from functions.evaluate_model.evaluation import bootstrap_difference, bootstrap_intervals, confusion_matrix, roc_curve_points

TOLERANCE = 1e-9


def _classifier_predictions(loader, **model_args):
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, **model_args)).fit(X_train, y_train)
    return y_test, model.predict(X_test), model.predict_proba(X_test), model.classes_


@pytest.fixture(scope="module")
def breast_cancer():
    # A weak regulariser keeps some mistakes, so precision/recall/F1 are not all 1.0.
    return _classifier_predictions(load_breast_cancer, C=0.01)


@pytest.fixture(scope="module")
def wine():
    return _classifier_predictions(load_wine, C=0.05)


def test_binary_metrics_match_sklearn(breast_cancer):
    # Given a logistic regression's predictions on the breast cancer test split
    y_test, predicted, proba, classes = breast_cancer
    predictions = ModelPredictions(labels=predicted, classes=tuple(str(c) for c in classes), probabilities=proba)

    # When the metrics are computed with numpy
    rows = prepare_rows("binary", y_test, predictions, positive_class="1")
    metrics = compute_metrics(rows)

    # Then each equals scikit-learn's value
    positive = proba[:, 1]
    expected = {
        "roc_auc": skm.roc_auc_score(y_test, positive),
        "pr_auc": skm.average_precision_score(y_test, positive),
        "f1": skm.f1_score(y_test, predicted),
        "precision": skm.precision_score(y_test, predicted),
        "recall": skm.recall_score(y_test, predicted),
        "accuracy": skm.accuracy_score(y_test, predicted),
        "log_loss": skm.log_loss(y_test, proba),
        "brier": skm.brier_score_loss(y_test, positive),
    }
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, abs=TOLERANCE), name
    assert 0.0 <= metrics["calibration_error"] <= 1.0
    assert metrics["f1"] < 1.0  # the fixture is not a perfect model, so the comparison means something


def test_binary_metrics_with_ties_and_string_labels_match_sklearn():
    # Given coarse scores with many ties and labels spelled as text
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 300)
    score = np.round(np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1), 1)
    labels = np.where(score >= 0.5, "yes", "no")
    truth = np.where(y == 1, "yes", "no")
    proba = np.column_stack([1 - score, score])

    rows = prepare_rows("binary", truth, ModelPredictions(labels, ("no", "yes"), proba), positive_class="yes")
    metrics = compute_metrics(rows)

    assert metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score), abs=TOLERANCE)
    assert metrics["pr_auc"] == pytest.approx(skm.average_precision_score(y, score), abs=TOLERANCE)
    curve = roc_curve_points(rows)
    fpr, tpr, _ = skm.roc_curve(y, score, drop_intermediate=False)
    assert curve["fpr"] == pytest.approx(list(fpr), abs=1e-6)
    assert curve["tpr"] == pytest.approx(list(tpr), abs=1e-6)


def test_expected_calibration_error_by_hand():
    # Given two occupied bins: [0.1, 0.2) holding 0.1, 0.1 (one positive) and [0.9, 1.0] holding 0.9, 1.0 (both positive)
    y = np.array([0, 1, 1, 1])
    score = np.array([0.1, 0.1, 0.9, 1.0])
    # Then ECE = 2/4 * |0.5 - 0.1| + 2/4 * |1.0 - 0.95|
    assert expected_calibration_error(y, score) == pytest.approx(0.5 * 0.4 + 0.5 * 0.05)


def test_multiclass_metrics_match_sklearn(wine):
    y_test, predicted, proba, classes = wine
    predictions = ModelPredictions(labels=predicted, classes=tuple(str(c) for c in classes), probabilities=proba)

    metrics = compute_metrics(prepare_rows("multiclass", y_test, predictions))

    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(y_test, predicted), abs=TOLERANCE)
    assert metrics["f1_macro"] == pytest.approx(skm.f1_score(y_test, predicted, average="macro"), abs=TOLERANCE)
    assert metrics["log_loss"] == pytest.approx(skm.log_loss(y_test, proba), abs=1e-9)
    assert metrics["roc_auc_ovr"] == pytest.approx(
        skm.roc_auc_score(y_test, proba, multi_class="ovr", average="macro"), abs=TOLERANCE
    )


def test_multiclass_probability_columns_are_aligned_by_class_name(wine):
    # Given the same probabilities with the columns in another order
    y_test, predicted, proba, classes = wine
    reordered = ModelPredictions(labels=predicted, classes=("2", "0", "1"), probabilities=proba[:, [2, 0, 1]])

    metrics = compute_metrics(prepare_rows("multiclass", y_test, reordered))

    assert metrics["log_loss"] == pytest.approx(skm.log_loss(y_test, proba), abs=1e-9)


def test_regression_metrics_match_sklearn():
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    predicted = LinearRegression().fit(X_train, y_train).predict(X_test)

    metrics = compute_metrics(prepare_rows("regression", y_test, ModelPredictions(labels=predicted)))

    assert metrics["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y_test, predicted)), abs=1e-9)
    assert metrics["mae"] == pytest.approx(skm.mean_absolute_error(y_test, predicted), abs=1e-9)
    assert metrics["r2"] == pytest.approx(skm.r2_score(y_test, predicted), abs=1e-9)


def test_confusion_matrix_matches_sklearn(wine):
    y_test, predicted, proba, classes = wine
    rows = prepare_rows("multiclass", y_test, ModelPredictions(predicted, tuple(map(str, classes)), proba))

    matrix = confusion_matrix(rows)

    assert matrix["labels"] == ["0", "1", "2"]
    assert matrix["counts"] == skm.confusion_matrix(y_test, predicted).tolist()


def test_undefined_metrics_are_left_out_not_reported_as_nan():
    # Given a test split with a single class, AUC is undefined
    rows = prepare_rows("binary", ["1", "1", "1"], ModelPredictions(np.array(["1", "0", "1"]), ("0", "1"), np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]])), "1")
    metrics = compute_metrics(rows)
    assert "roc_auc" not in metrics
    assert metrics["accuracy"] == pytest.approx(2 / 3)


def test_probability_metrics_are_skipped_without_probabilities():
    rows = prepare_rows("binary", ["0", "1"], ModelPredictions(np.array(["0", "1"])), "1")
    assert set(compute_metrics(rows)) == {"f1", "precision", "recall", "accuracy"}


def test_predictions_must_match_the_rows():
    with pytest.raises(PredictionsMismatchError):
        prepare_rows("binary", ["0", "1", "1"], ModelPredictions(np.array(["0", "1"])), "1")


def test_labels_are_compared_in_one_spelling():
    assert [canonical_label(v) for v in (1, 1.0, "1", " 1 ", "1.0", True, "a")] == ["1", "1", "1", "1", "1", "True", "a"]
    assert canonical_label(2.5) == "2.5"
    assert positive_class_for(["benign", "malignant"], []) == "malignant"
    assert positive_class_for(None, ["10", "9"]) == "10"


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate(breast_cancer):
    y_test, predicted, proba, classes = breast_cancer
    rows = prepare_rows("binary", y_test, ModelPredictions(predicted, ("0", "1"), proba), "1")
    point = compute_metrics(rows)["roc_auc"]

    first = bootstrap_intervals(rows, ["roc_auc", "f1"], samples=100)
    second = bootstrap_intervals(rows, ["roc_auc", "f1"], samples=100)

    assert first == second
    low, high = first["roc_auc"]
    assert low <= point <= high
    assert low < high
    assert bootstrap_intervals(rows, ["roc_auc"], samples=0) == {}


def test_paired_bootstrap_difference_is_positive_for_a_clearly_better_model(breast_cancer):
    y_test, predicted, proba, classes = breast_cancer
    better = prepare_rows("binary", y_test, ModelPredictions(predicted, ("0", "1"), proba), "1")
    rng = np.random.default_rng(0)
    noise = rng.random(len(y_test))
    worse = prepare_rows(
        "binary", y_test, ModelPredictions(np.where(noise > 0.5, 1, 0), ("0", "1"), np.column_stack([1 - noise, noise])), "1"
    )

    low, high = bootstrap_difference(better, worse, "roc_auc", samples=100)

    assert 0 < low < high
