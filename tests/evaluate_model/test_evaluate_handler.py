"""The Evaluate model handler against moto: reports written, result returned, failures typed."""

from __future__ import annotations

import json

import pytest

from functions.common.contracts import EvaluateModelResult
from functions.common.errors import ChampionUnavailableError, MissingEnvironmentError, TrainingOutputMissingError
from functions.evaluate_model.handler import lambda_handler

DATA_BUCKET = "data-bucket"


def _report(scenario, name: str) -> str:
    key = f"reports/{scenario.execution_name}/{name}"
    return scenario.s3.get_object(Bucket=DATA_BUCKET, Key=key)["Body"].read().decode()


def test_first_model_passes_on_floors_and_writes_both_reports(scenario, context, strong_model):
    # Given no endpoint yet and a good challenger
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


def test_challenger_is_compared_with_the_champion_on_the_same_rows(scenario, context, strong_model, weak_model):
    # Given a weak model serving and a strong challenger
    scenario.deploy_champion(model_version="3")
    scenario.serve_with(weak_model)
    scenario.upload_challenger(strong_model)

    result = EvaluateModelResult.model_validate(lambda_handler(scenario.event, context))

    # Then both were scored and the challenger passes
    assert result.passed
    assert result.champion_version == 3
    assert result.champion_metrics["roc_auc"] < result.metrics["roc_auc"]
    # The endpoint saw every test row, tagged as evaluation traffic
    assert sum(call["rows"] for call in scenario.invocations) == len(scenario.data.test)
    assert {call["inference_id"] for call in scenario.invocations} == {f"evaluation-{scenario.execution_name}"}
    document = json.loads(_report(scenario, "evaluation.json"))
    assert document["champion"]["model_version"] == 3
    low, high = document["primary_metric_difference_interval"]
    assert 0 < low <= high
    assert "version 3" in _report(scenario, "evaluation.html")


def test_challenger_worse_than_the_champion_fails_with_reasons(scenario, context, strong_model, weak_model):
    # Given a strong model serving and a weak challenger that still clears the floors
    scenario.write_config(_config(scenario, thresholds={"roc_auc": 0.6}))
    scenario.deploy_champion(model_version="7")
    scenario.serve_with(strong_model)
    scenario.upload_challenger(weak_model)

    result = EvaluateModelResult.model_validate(lambda_handler(scenario.event, context))

    assert not result.passed
    assert result.champion_version == 7
    assert len(result.reasons) == 1
    assert "more than the allowed regression of 0.0100" in result.reasons[0]
    assert result.summary.startswith("Failed")
    assert json.loads(_report(scenario, "evaluation.json"))["passed"] is False


def test_first_model_below_the_floor_fails(scenario, context, weak_model):
    scenario.write_config(_config(scenario, thresholds={"roc_auc": 0.95}))
    scenario.upload_challenger(weak_model)

    result = EvaluateModelResult.model_validate(lambda_handler(scenario.event, context))

    assert not result.passed
    assert any("below the floor of 0.9500" in reason for reason in result.reasons)


def test_missing_predictions_in_training_output_is_a_typed_error(scenario, context):
    # Given an output archive without predictions.csv
    scenario.upload_training_output({"metrics.json": b"{}"})

    with pytest.raises(TrainingOutputMissingError, match="predictions.csv"):
        lambda_handler(scenario.event, context)


def test_missing_output_archive_is_a_typed_error(scenario, context):
    with pytest.raises(TrainingOutputMissingError, match="output.tar.gz"):
        lambda_handler(scenario.event, context)


def test_an_endpoint_that_cannot_score_fails_the_execution(scenario, context, strong_model):
    # Given an endpoint that answers with something other than predictions (moto's canned body)
    scenario.deploy_champion()
    scenario.upload_challenger(strong_model)

    with pytest.raises(ChampionUnavailableError):
        lambda_handler(scenario.event, context)


def test_missing_environment_variable_is_a_typed_error(scenario, context, monkeypatch, strong_model):
    scenario.upload_challenger(strong_model)
    monkeypatch.delenv("ENDPOINT_NAME")

    with pytest.raises(MissingEnvironmentError) as raised:
        lambda_handler(scenario.event, context)
    assert raised.value.name == "ENDPOINT_NAME"


def _config(scenario, **gates):
    from functions.common.config import PipelineConfig

    current = PipelineConfig.model_validate_json((scenario.task_root / "pipeline_config.json").read_text())
    return current.model_copy(update={"gates": current.gates.model_copy(update=gates)})
