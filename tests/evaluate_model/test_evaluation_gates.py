"""Promotion gates: absolute floors and ceilings; with a champion, the guard against suspect
labels, no regression on the reference holdout and a required improvement on the new rows."""

from __future__ import annotations

from functions.common.config import GateConfig
from functions.evaluate_model.evaluation import ChampionEvidence, comparison, decide

LABEL = "the champion (version 3)"


def _evidence(
    metric: str,
    new_rows: tuple[float, float],
    reference: tuple[float, float] | None,
    registered: float | None = None,
) -> ChampionEvidence:
    """(challenger, champion) on the new test rows and on the reference holdout."""
    return ChampionEvidence(
        label=LABEL,
        new_rows=comparison(metric, "the new test rows", 100, {metric: new_rows[0]}, {metric: new_rows[1]}),
        reference=None
        if reference is None
        else comparison(metric, "the reference holdout", 300, {metric: reference[0]}, {metric: reference[1]}),
        registered_score=registered,
    )


def test_first_model_is_judged_on_floors_alone():
    # Given no champion and a challenger above both floors
    gates = GateConfig(primary_metric="roc_auc", thresholds={"roc_auc": 0.8, "f1": 0.7}, max_regression=0.01)

    decision = decide(gates, "binary", {"roc_auc": 0.91, "f1": 0.75}, None)

    # Then it passes and the record says why no comparison was made
    assert decision.passed
    assert [c.gate for c in decision.checks] == ["threshold", "threshold"]
    assert any("No model is serving" in note for note in decision.notes)
    assert decision.summary.startswith("Passed: roc_auc 0.9100")


def test_first_model_below_a_floor_fails_with_one_sentence_per_failure():
    gates = GateConfig(primary_metric="roc_auc", thresholds={"roc_auc": 0.8, "f1": 0.7})

    decision = decide(gates, "binary", {"roc_auc": 0.75, "f1": 0.6}, None)

    assert not decision.passed
    assert decision.reasons == [
        "roc_auc 0.7500 is below the floor of 0.8000.",
        "f1 0.6000 is below the floor of 0.7000.",
    ]
    assert decision.summary.startswith("Rejected")
    assert "1 more failed gate" in decision.summary


def test_a_challenger_better_on_both_sets_of_rows_passes_and_the_summary_leads_with_both_comparisons():
    gates = GateConfig(primary_metric="roc_auc", thresholds={"roc_auc": 0.8}, max_regression=0.01, min_improvement=0.005)

    decision = decide(gates, "binary", {"roc_auc": 0.97}, _evidence("roc_auc", (0.97, 0.95), (0.96, 0.955), 0.95))

    assert decision.passed
    assert [c.gate for c in decision.checks] == ["suspect_labels", "reference", "improvement", "threshold"]
    assert decision.summary.startswith(
        "Passed: roc_auc, margin +0.0050; the new test rows 0.9700 vs the champion (version 3) 0.9500 (+0.0200); "
        "the reference holdout 0.9600 vs the champion (version 3) 0.9550 (+0.0050)"
    )
    assert [c.rows_name for c in decision.comparisons] == ["the new test rows", "the reference holdout"]


def test_a_tie_does_not_deploy_by_default():
    # Given a challenger that scores exactly what the champion scores (a retrain on the same rows)
    gates = GateConfig(primary_metric="roc_auc", thresholds={"roc_auc": 0.8})

    decision = decide(gates, "binary", {"roc_auc": 0.95}, _evidence("roc_auc", (0.95, 0.95), (0.96, 0.96), 0.95))

    assert not decision.passed
    assert decision.reasons == [
        "No improvement: on the new test rows (100) roc_auc 0.9500 against the champion (version 3)'s 0.9500 "
        "(+0.0000), where the margin is more than +0.0000."
    ]
    assert decision.summary.startswith("Rejected, no improvement")


def test_an_improvement_within_the_margin_is_no_improvement():
    gates = GateConfig(primary_metric="roc_auc", min_improvement=0.01)

    decision = decide(gates, "binary", {"roc_auc": 0.955}, _evidence("roc_auc", (0.955, 0.95), (0.96, 0.96)))

    assert not decision.passed
    assert decision.reasons[0].startswith("No improvement")


def test_a_challenger_that_wins_on_the_new_rows_but_regresses_on_the_reference_holdout_is_rejected():
    gates = GateConfig(primary_metric="roc_auc", max_regression=0.01)

    decision = decide(gates, "binary", {"roc_auc": 0.99}, _evidence("roc_auc", (0.99, 0.90), (0.93, 0.96), 0.95))

    assert not decision.passed
    assert len(decision.reasons) == 1
    assert decision.reasons[0].startswith("Regression on the reference holdout")
    assert "(-0.0300)" in decision.reasons[0]


def test_a_champion_that_collapses_on_the_new_rows_but_holds_on_the_reference_holdout_means_suspect_labels():
    # Given swapped labels: the champion's AUC on the new rows is 0.003, on trusted rows 0.99
    gates = GateConfig(primary_metric="roc_auc", max_regression=0.01)

    decision = decide(gates, "binary", {"roc_auc": 0.997}, _evidence("roc_auc", (0.997, 0.003), (0.01, 0.99), 0.99))

    assert not decision.passed
    assert decision.reasons[0].startswith("Suspect labels: the champion (version 3) scores roc_auc 0.0030")
    assert decision.summary.startswith("Rejected, suspect labels")


def test_a_champion_that_collapses_everywhere_is_not_suspect_labels():
    # The champion fails on the reference holdout too: the world changed, not the labels.
    gates = GateConfig(primary_metric="roc_auc", max_regression=0.01)

    decision = decide(gates, "binary", {"roc_auc": 0.9}, _evidence("roc_auc", (0.9, 0.6), (0.9, 0.6), 0.99))

    assert decision.passed
    assert decision.checks[0].gate == "suspect_labels" and decision.checks[0].passed


def test_lower_is_better_metrics_use_ceilings_and_reverse_the_comparisons():
    gates = GateConfig(primary_metric="rmse", thresholds={"rmse": 60.0, "r2": 0.3}, max_regression=1.0)

    # A lower RMSE than the champion is an improvement, however large
    better = decide(gates, "regression", {"rmse": 50.0, "r2": 0.45}, _evidence("rmse", (50.0, 58.0), (52.0, 52.5)))
    # A higher RMSE on the reference holdout by more than max_regression is a regression
    worse = decide(gates, "regression", {"rmse": 50.0, "r2": 0.45}, _evidence("rmse", (50.0, 58.0), (55.0, 53.0)))
    # Above the ceiling fails even without a champion
    above_ceiling = decide(gates, "regression", {"rmse": 61.0, "r2": 0.45}, None)

    assert better.passed
    assert not worse.passed and worse.reasons[0].startswith("Regression on the reference holdout")
    assert "(-2.0000)" in worse.reasons[0]
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
    evidence = ChampionEvidence(
        label=LABEL,
        new_rows=comparison("roc_auc", "the new test rows", 100, {"roc_auc": 0.9}, {"accuracy": 0.9}),
        reference=None,
        registered_score=None,
    )

    decision = decide(gates, "binary", {"roc_auc": 0.9}, evidence)

    assert not decision.passed
    assert any("cannot be compared" in reason for reason in decision.reasons)
    assert any("reference holdout has no roc_auc" in reason for reason in decision.reasons)
