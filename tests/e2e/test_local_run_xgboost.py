"""`mlops local run` with training.framework "xgboost" on two instances: the upload's training
split is written in parts, the two training processes train one model over XGBoost's collective,
and everything after training (evaluation against the champion, registry, deployment) works on it
unchanged, the endpoint serving it through the XGBoost image's serving stack."""

from __future__ import annotations

import pytest

from functions.common.outcome import Outcome
from tests.support.local_pipeline_runs import init_config, local_run, results_folder, write_csv
from tests.support.xgboost_training import xgboost_python

pytestmark = pytest.mark.e2e

INSTANCE_COUNT = 2


def test_an_xgboost_upload_trains_on_two_instances_and_deploys(tmp_path, capsys, breast_cancer_frame):
    # Given a config that trains XGBoost on two instances
    xgboost_python()
    first = write_csv(breast_cancer_frame.iloc[:400], tmp_path / "breast_cancer_1.csv")
    second = write_csv(breast_cancer_frame, tmp_path / "breast_cancer_2.csv")
    config = init_config(
        first,
        "target",
        tmp_path / "pipeline.json",
        training__framework="xgboost",
        training__framework_version="3.0-5",
        training__instance_count=INSTANCE_COUNT,
        training__hyperparameters={"num_round": 60, "eta": 0.2},
    )

    # When the first upload and then a larger one (which trains against the first as champion) run
    exit_code, results = local_run(capsys, config, first, second)

    # Then the first deploys, and the second is decided against it by the gate, not failed
    assert exit_code == 0
    assert results[0]["outcome"] == Outcome.DEPLOYED, results[0]["reason"]
    assert results[0]["evaluation"]["metrics"]["roc_auc"] > 0.9
    assert results[1]["outcome"] in (Outcome.DEPLOYED, Outcome.MODEL_REJECTED), results[1]["reason"]
    assert results[1]["evaluation"]["champion_version"] == 1
    assert set(results[1]["evaluation"]["champion_metrics"]) >= {"roc_auc", "f1"}
    # And each training job ran as two hosts that joined one collective, ranks 0 and 1
    job_logs = {log.name: log.read_text() for log in (results_folder(config) / "logs" / "jobs").glob("*.log")}
    training_logs = [text for text in job_logs.values() if "training complete" in text]
    assert len(training_logs) == 2
    for text in training_logs:
        assert "got rank 0" in text and "got rank 1" in text
        assert '"training_hosts": 2' in text
