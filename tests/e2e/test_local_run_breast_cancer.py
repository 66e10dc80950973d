"""`mlops local run` on the Wisconsin breast cancer data (binary classification):
deploy, duplicate, data_rejected, model_rejected (labels shuffled), and a second deployment."""

from __future__ import annotations

import pytest

from functions.common.outcome import Outcome
from tests.support.local_pipeline_runs import init_config, local_run, write_csv

pytestmark = pytest.mark.e2e


def test_the_pipeline_story_on_breast_cancer(tmp_path, capsys, breast_cancer_frame):
    # Given a config inferred from a first sample, and five uploads of the same source
    first = write_csv(breast_cancer_frame.iloc[:300], tmp_path / "cancer_2024_01.csv")
    config = init_config(first, "target", tmp_path / "pipeline.json")
    resent = write_csv(breast_cancer_frame.iloc[:300], tmp_path / "cancer_2024_01_resent.csv")
    broken = breast_cancer_frame.iloc[300:420].drop(columns=["target"])
    broken_file = write_csv(broken, tmp_path / "cancer_export_without_target.csv")
    shuffled = breast_cancer_frame.iloc[150:450].copy()
    shuffled["target"] = shuffled["target"].sample(frac=1.0, random_state=3).to_numpy()
    shuffled_file = write_csv(shuffled, tmp_path / "cancer_labels_shuffled.csv")
    more = write_csv(breast_cancer_frame, tmp_path / "cancer_2024_02.csv")

    # When they are uploaded in order to one local cloud
    exit_code, results = local_run(capsys, config, first, resent, broken_file, shuffled_file, more)

    # Then each reaches the outcome its content deserves
    assert exit_code == 0
    assert [r["outcome"] for r in results] == [
        Outcome.DEPLOYED,
        Outcome.DUPLICATE,
        Outcome.DATA_REJECTED,
        Outcome.MODEL_REJECTED,
        Outcome.DEPLOYED,
    ]
    deployed, duplicate, rejected, shuffled_result, second = results

    assert deployed["model_version"] == 1 and deployed["approval_status"] == "Approved"
    assert deployed["endpoint"] == {
        "name": "mlops-endpoint", "status": "InService", "endpoint_config": deployed["endpoint"]["endpoint_config"], "model_version": 1,
        "failure_reason": None,
    }
    assert deployed["evaluation"]["passed"] is True and deployed["evaluation"]["champion_metrics"] is None
    assert {s["name"] for s in deployed["execution"]["states"]} >= {"Validate data", "Start training", "Evaluate model", "Register version", "Deployed"}
    assert deployed["reason"] is None

    # The same bytes under another key are recognised without training
    assert "Start training" not in {s["name"] for s in duplicate["execution"]["states"]}
    assert duplicate["reason"]

    # A file without its target is quarantined with a reason naming the column
    assert rejected["validation"]["passed"] is False
    assert any(e["column"] == "target" for e in rejected["validation"]["errors"])
    assert "target" in rejected["reason"]
    assert rejected["quarantine_uri"].endswith("/cancer_export_without_target.csv")

    # Shuffled labels train a model below the floor; it is compared with the champion on the
    # same rows (whose labels are shuffled too), rejected, and the champion keeps serving
    assert shuffled_result["evaluation"]["passed"] is False
    assert shuffled_result["evaluation"]["metrics"]["roc_auc"] < 0.7
    assert shuffled_result["evaluation"]["champion_version"] == 1
    assert set(shuffled_result["evaluation"]["champion_metrics"]) >= {"roc_auc", "f1"}
    assert shuffled_result["approval_status"] == "Rejected"
    assert shuffled_result["endpoint"]["model_version"] == 1
    assert shuffled_result["reason"]

    # More data of the same kind is compared with the champion on the same rows and replaces it
    assert second["evaluation"]["champion_version"] == 1
    assert second["evaluation"]["champion_metrics"]
    assert second["model_version"] == 3  # the rejected candidate is version 2: the registry keeps every one
    assert second["endpoint"]["model_version"] == 3
