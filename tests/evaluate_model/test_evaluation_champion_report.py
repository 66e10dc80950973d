"""The champion's predictions read from the training job's output; the report's HTML."""

from __future__ import annotations

import json

import numpy as np
import pytest

from functions.common.config import GateConfig
from functions.common.contracts import ChampionReference
from functions.common.errors import ChampionUnavailableError
from functions.common.model_metrics import ModelPredictions, compute_metrics, prepare_rows
from functions.evaluate_model import champion
from functions.evaluate_model.evaluation import ChampionEvidence, comparison, decide
from functions.evaluate_model.report import build_document, model_section, render_html, to_json
from tests.support.evaluation_scenario import tar_gz


CHAMPION = ChampionReference(
    model_package_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-models/3",
    model_version=3,
    model_artifact="s3://artifacts/training-jobs/old/output/model.tar.gz",
)


def test_the_output_directory_s_own_files_win_over_nested_ones():
    archive = tar_gz({"nested/champion_predictions.csv": b"nested", "champion_predictions.csv": b"own", "x/predictions.csv": b"p"})

    files = champion.output_files(archive, "s3://a/output.tar.gz")

    assert files["champion_predictions.csv"] == b"own"
    assert files["predictions.csv"] == b"p"


def test_an_output_without_the_champion_s_predictions_cannot_be_compared():
    files = champion.output_files(tar_gz({"predictions.csv": b"prediction\n1\n"}), "s3://a/output.tar.gz")

    with pytest.raises(ChampionUnavailableError, match="champion_predictions.csv.*version 3"):
        champion.required(files, champion.CHAMPION_PREDICTIONS_FILE_NAME, "s3://a/output.tar.gz", CHAMPION)
    assert champion.reference_holdout(files, "s3://a/output.tar.gz", CHAMPION, classification=True) is None


def test_a_reference_holdout_needs_both_models_predictions():
    files = {"reference_labels.csv": b"label\n1\n0\n", "reference_predictions.csv": b"prediction\n1\n0\n"}

    with pytest.raises(ChampionUnavailableError, match="champion_reference_predictions.csv"):
        champion.reference_holdout(files, "s3://a/output.tar.gz", CHAMPION, classification=True)


def test_a_broken_archive_is_a_typed_error():
    with pytest.raises(ChampionUnavailableError, match="not a readable tar archive"):
        champion.output_files(b"not a tar", "s3://a/output.tar.gz")


def test_html_report_is_self_contained_and_compares_both_models():
    y = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    score = np.array([0.1, 0.9, 0.7, 0.4, 0.6, 0.2, 0.3, 0.8])
    challenger_rows = prepare_rows("binary", y, ModelPredictions((score > 0.5).astype(int), ("0", "1"), np.column_stack([1 - score, score])), "1")
    champion_rows = prepare_rows("binary", y, ModelPredictions(np.ones(8, dtype=int), ("0", "1"), np.tile([0.4, 0.6], (8, 1))), "1")
    metrics, champion_metrics = compute_metrics(challenger_rows), compute_metrics(champion_rows)
    evidence = ChampionEvidence(
        "the champion (version 3)", comparison("roc_auc", "the new test rows", 8, metrics, champion_metrics), None, None
    )
    decision = decide(GateConfig(primary_metric="roc_auc", thresholds={"roc_auc": 0.7}), "binary", metrics, evidence)
    champion_section = {
        "label": "the champion (version 3)",
        "serves": "scoring batch uploads as the newest approved version",
        **model_section(champion_rows, champion_metrics),
    }

    document = build_document(
        header={"primary_metric": "roc_auc", "training_job_name": "job<1>", "rows": 8},
        decision=decision,
        challenger=model_section(challenger_rows, metrics, {"roc_auc": (0.7, 1.0)}),
        champion=champion_section,
        primary_difference_interval=(0.1, 0.4),
    )
    page = render_html(document)

    assert json.loads(to_json(document))["passed"] == decision.passed
    assert page.count("<svg") == 4  # ROC, precision-recall, and a confusion matrix per model
    # The champion is named with where it is in service, never with an endpoint it does not have
    assert "the champion (version 3) scoring batch uploads as the newest approved version" in page
    assert "endpoint" not in page
    assert "job&lt;1&gt;" in page and "job<1>" not in page
    assert "<script" not in page and "<link" not in page
