"""The Evaluate model handler against moto: reports written, result returned, failures typed."""

from __future__ import annotations

import json

import pytest

from functions.common.contracts import EvaluateModelResult
from functions.common.errors import (
    ChampionUnavailableError,
    MissingEnvironmentError,
    TrainingContractError,
    TrainingOutputMissingError,
)
from functions.evaluate_model.handler import lambda_handler
from tests.support.evaluation_scenario import predictions_frame

DATA_BUCKET = "data-bucket"


def _report(scenario, name: str) -> str:
    key = f"reports/{scenario.execution_name}/{name}"
    return scenario.s3.get_object(Bucket=DATA_BUCKET, Key=key)["Body"].read().decode()


def test_first_model_passes_on_floors_and_writes_both_reports(scenario, context, strong_model):
    # Given no version serving yet and a good challenger
    scenario.upload_challenger(strong_model)

    # When the handler runs
    result = EvaluateModelResult.model_validate(lambda_handler(scenario.event, context))

    # Then it passes on the absolute gates alone
    assert result.passed
    assert result.champion_metrics is None and result.champion_version is None
    assert result.metrics["roc_auc"] > 0.95
    low, high = result.confidence_intervals["roc_auc"]
    assert low <= result.metrics["roc_auc"] <= high
    assert result.model_artifact == f"s3://artifacts-bucket/training-jobs/{scenario.training_job_name}/output/model.tar.gz"
    assert result.report_uri == f"s3://{DATA_BUCKET}/reports/{scenario.execution_name}/evaluation.json"
    assert result.report_html_uri == f"s3://{DATA_BUCKET}/reports/{scenario.execution_name}/evaluation.html"
    assert result.summary.startswith("Passed")
    # And the JSON report carries the evidence
    document = json.loads(_report(scenario, "evaluation.json"))
    assert document["passed"] is True
    assert document["rows"] == len(scenario.data.test)
    assert document["champion"] is None
    assert document["challenger"]["metrics"] == pytest.approx(result.metrics)
    assert sum(map(sum, document["challenger"]["confusion_matrix"]["counts"])) == len(scenario.data.test)
    # And the HTML page is self-contained with its charts
    page = _report(scenario, "evaluation.html")
    assert page.count("<svg") == 3  # ROC, precision-recall, confusion matrix
    assert "ROC curve" in page and "Precision-recall curve" in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_challenger_is_compared_with_the_champion_on_the_same_rows_without_the_endpoint(
    scenario, context, strong_model, weak_model, monkeypatch
):
    # Given a weak model serving and a strong challenger, with the training job's predictions of both
    scenario.upload_comparison(strong_model, weak_model, model_version=3)
    # And no endpoint at all: evaluation must not need one
    import functions.evaluate_model.handler as handler_module

    built: list[str] = []
    real_client = handler_module.aws_client
    monkeypatch.setattr(handler_module, "aws_client", lambda name, *a, **k: built.append(name) or real_client(name, *a, **k))

    result = EvaluateModelResult.model_validate(lambda_handler(scenario.event, context))

    # Then both were scored on the same rows and the challenger passes
    assert result.passed
    assert "sagemaker-runtime" not in built
    assert result.champion_version == 3
    assert result.champion_metrics["roc_auc"] < result.metrics["roc_auc"]
    document = json.loads(_report(scenario, "evaluation.json"))
    assert document["champion"]["model_version"] == 3
    assert sum(map(sum, document["champion"]["confusion_matrix"]["counts"])) == len(scenario.data.test)
    low, high = document["primary_metric_difference_interval"]
    assert 0 < low <= high
    # And the report leads with the gate: primary metric, margin and both comparisons
    assert list(document)[0] == "gate"
    gate = document["gate"]
    assert gate["primary_metric"] == "roc_auc" and gate["min_improvement"] == 0.0
    assert [c["rows"] for c in gate["comparisons"]] == ["the new test rows", "the reference holdout"]
    assert gate["comparisons"][1]["row_count"] == len(scenario.data.train)
    assert document["reference_holdout"]["rows"] == len(scenario.data.train)
    assert "version 3" in _report(scenario, "evaluation.html")


def test_challenger_worse_than_the_champion_fails_with_reasons(scenario, context, strong_model, weak_model):
    # Given a strong model serving and a weak challenger that still clears the floors
    scenario.write_config(_config(scenario, thresholds={"roc_auc": 0.6}))
    scenario.upload_comparison(weak_model, strong_model, model_version=7)

    result = EvaluateModelResult.model_validate(lambda_handler(scenario.event, context))

    assert not result.passed
    assert result.champion_version == 7
    assert [reason.split(":")[0] for reason in result.reasons] == ["Regression on the reference holdout", "No improvement"]
    assert result.summary.startswith("Rejected, regression on the reference holdout")
    assert json.loads(_report(scenario, "evaluation.json"))["passed"] is False


def test_a_challenger_equal_to_the_champion_is_no_improvement(scenario, context, strong_model):
    # Given a retrain that produced the serving model again
    scenario.upload_comparison(strong_model, strong_model, model_version=4)

    result = EvaluateModelResult.model_validate(lambda_handler(scenario.event, context))

    assert not result.passed
    assert [reason.split(":")[0] for reason in result.reasons] == ["No improvement"]


def test_swapped_labels_are_held_as_suspect_labels(scenario, context, breast_cancer, strong_model):
    # Given an upload whose labels are swapped, a challenger that learned them, and the champion
    # registered with its real score
    swapped = breast_cancer.train.assign(target=1 - breast_cancer.train["target"])
    inverted = breast_cancer.__class__(swapped, breast_cancer.test, breast_cancer.features).fit(
        breast_cancer.features, regularization=1.0
    )
    scenario.upload_comparison(
        inverted, strong_model, model_version=2, registered_score=0.99, test_labels=1 - breast_cancer.test["target"]
    )

    result = EvaluateModelResult.model_validate(lambda_handler(scenario.event, context))

    # Then the inverted model wins on the new rows but is not deployed, for suspect labels
    assert result.metrics["roc_auc"] > 0.95 and result.champion_metrics["roc_auc"] < 0.05
    assert not result.passed
    assert result.reasons[0].startswith("Suspect labels: the champion (version 2)")
    assert result.summary.startswith("Rejected, suspect labels")


def test_first_model_below_the_floor_fails(scenario, context, weak_model):
    scenario.write_config(_config(scenario, thresholds={"roc_auc": 0.95}))
    scenario.upload_challenger(weak_model)

    result = EvaluateModelResult.model_validate(lambda_handler(scenario.event, context))

    assert not result.passed
    assert any("below the floor of 0.9500" in reason for reason in result.reasons)


def test_missing_predictions_in_training_output_is_a_typed_error(scenario, context):
    # Given an output archive without predictions.csv
    scenario.upload_training_output({"metrics.json": b"{}"})

    with pytest.raises(TrainingOutputMissingError, match="holds no predictions.csv: the training script wrote none"):
        lambda_handler(scenario.event, context)


def test_predictions_for_fewer_rows_than_the_test_split_break_the_training_contract(scenario, context, strong_model):
    # Given a training script's predictions.csv that left out the last test rows
    rows = len(scenario.data.test)
    frame = predictions_frame(strong_model, scenario.data.test, list(strong_model.feature_names_in_)).iloc[:-2]
    scenario.upload_training_output({"predictions.csv": frame.to_csv(index=False).encode()})

    # Then evaluation fails, saying which file of which job breaks the contract, and how
    with pytest.raises(TrainingContractError) as raised:
        lambda_handler(scenario.event, context)
    assert f"the predictions.csv of training job {scenario.training_job_name} breaks the script-mode contract" in str(raised.value)
    assert f"{rows - 2} predictions for {rows} test rows" in str(raised.value)


def test_a_predictions_file_without_its_prediction_column_breaks_the_training_contract(scenario, context):
    scenario.upload_training_output({"predictions.csv": b"score\n0.5\n"})

    with pytest.raises(TrainingContractError, match="breaks the script-mode contract: predictions.csv has no 'prediction' column"):
        lambda_handler(scenario.event, context)


def test_missing_output_archive_is_a_typed_error(scenario, context):
    with pytest.raises(TrainingOutputMissingError, match="output.tar.gz"):
        lambda_handler(scenario.event, context)


def test_a_training_output_without_the_champion_s_predictions_fails_the_execution(scenario, context, strong_model):
    # Given a champion in the validation result but an output written without its predictions
    scenario.upload_comparison(strong_model, strong_model)
    scenario.upload_challenger(strong_model)

    with pytest.raises(ChampionUnavailableError, match="champion_predictions.csv"):
        lambda_handler(scenario.event, context)


def test_missing_environment_variable_is_a_typed_error(scenario, context, monkeypatch, strong_model):
    scenario.upload_challenger(strong_model)
    monkeypatch.delenv("DATA_BUCKET")

    with pytest.raises(MissingEnvironmentError) as raised:
        lambda_handler(scenario.event, context)
    assert raised.value.name == "DATA_BUCKET"


def _config(scenario, **gates):
    from functions.common.config import PipelineConfig

    current = PipelineConfig.model_validate_json((scenario.task_root / "pipeline_config.json").read_text())
    return current.model_copy(update={"gates": current.gates.model_copy(update=gates)})
