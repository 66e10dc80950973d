"""Promotion gates: absolute floors and ceilings, and the relative gate against the champion."""

from __future__ import annotations

from functions.common.config import GateConfig
from functions.evaluate_model.evaluation import decide


def test_first_model_is_judged_on_floors_alone():
    # Given no champion and a challenger above both floors
    gates = GateConfig(primary_metric="roc_auc", thresholds={"roc_auc": 0.8, "f1": 0.7}, max_regression=0.01)

    decision = decide(gates, "binary", {"roc_auc": 0.91, "f1": 0.75}, champion_metrics=None)

    # Then it passes and the record says why no comparison was made
    assert decision.passed
    assert [c.gate for c in decision.checks] == ["threshold", "threshold"]
    assert any("No model is serving" in note for note in decision.notes)
    assert decision.summary.startswith("Passed:")


def test_first_model_below_a_floor_fails_with_one_sentence_per_failure():
    gates = GateConfig(primary_metric="roc_auc", thresholds={"roc_auc": 0.8, "f1": 0.7})

    decision = decide(gates, "binary", {"roc_auc": 0.75, "f1": 0.6}, champion_metrics=None)

    assert not decision.passed
    assert decision.reasons == [
        "roc_auc 0.7500 is below the floor of 0.8000.",
        "f1 0.6000 is below the floor of 0.7000.",
    ]
    assert decision.summary.startswith("Failed")
    assert "1 more failed gate" in decision.summary


def test_challenger_worse_than_champion_beyond_max_regression_fails():
    # Given a challenger above the floor but 0.03 below the champion, with 0.01 allowed
    gates = GateConfig(primary_metric="roc_auc", thresholds={"roc_auc": 0.8}, max_regression=0.01)

    decision = decide(gates, "binary", {"roc_auc": 0.92}, {"roc_auc": 0.95}, "the champion (version 3)")

    assert not decision.passed
    assert len(decision.reasons) == 1
    assert "0.0300 worse" in decision.reasons[0]
    assert "version 3" in decision.reasons[0]


def test_challenger_slightly_worse_within_max_regression_passes():
    gates = GateConfig(primary_metric="roc_auc", thresholds={}, max_regression=0.01)

    decision = decide(gates, "binary", {"roc_auc": 0.945}, {"roc_auc": 0.95}, "the champion (version 3)")

    assert decision.passed
    assert "within the allowed regression" in decision.reasons[0]


def test_lower_is_better_metrics_use_ceilings_and_reverse_the_comparison():
    gates = GateConfig(primary_metric="rmse", thresholds={"rmse": 60.0, "r2": 0.3}, max_regression=1.0)

    # A lower RMSE than the champion is an improvement, however large
    better = decide(gates, "regression", {"rmse": 50.0, "r2": 0.45}, {"rmse": 58.0, "r2": 0.35})
    # A higher RMSE by more than max_regression is a regression
    worse = decide(gates, "regression", {"rmse": 55.0, "r2": 0.45}, {"rmse": 53.0, "r2": 0.5})
    # Above the ceiling fails even without a champion
    above_ceiling = decide(gates, "regression", {"rmse": 61.0, "r2": 0.45}, None)

    assert better.passed
    assert not worse.passed and "2.0000 worse" in worse.reasons[0]
    assert not above_ceiling.passed
    assert above_ceiling.reasons == ["rmse 61.0000 exceeds the ceiling of 60.0000."]


def test_a_threshold_on_a_metric_that_does_not_exist_fails_explicitly():
    gates = GateConfig(primary_metric="rmse", thresholds={"f1": 0.7})

    decision = decide(gates, "regression", {"rmse": 50.0}, None)

    assert not decision.passed
    assert "not a regression metric" in decision.reasons[0]


def test_undefined_primary_metric_fails():
    # Given a challenger whose AUC is undefined (e.g. no probabilities)
    gates = GateConfig(primary_metric="roc_auc", thresholds={"f1": 0.5})

    decision = decide(gates, "binary", {"f1": 0.8}, None)

    assert not decision.passed
    assert "undefined" in decision.reasons[0]


def test_champion_without_the_primary_metric_cannot_be_beaten_silently():
    gates = GateConfig(primary_metric="roc_auc", thresholds={})

    decision = decide(gates, "binary", {"roc_auc": 0.9}, {"accuracy": 0.9}, "the champion (version 2)")

    assert not decision.passed
    assert "cannot be compared" in decision.reasons[0]
