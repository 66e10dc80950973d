"""Metric and estimator names are checked when the pipeline config loads, not after training."""

from __future__ import annotations

import json

import pytest

from functions.common.config import ESTIMATOR_NAMES, PROBLEM_METRICS, ConfigError, load_config
from functions.common.model_metrics import METRICS
from functions.training.train import ESTIMATORS


def test_the_config_names_the_metrics_evaluation_computes_and_the_estimators_training_fits():
    assert {problem: set(names) for problem, names in PROBLEM_METRICS.items()} == {
        problem: set(definitions) for problem, definitions in METRICS.items()
    }
    assert tuple(ESTIMATOR_NAMES) == tuple(ESTIMATORS)


@pytest.mark.parametrize(
    ("section", "change", "named"),
    [
        ("gates", {"primary_metric": "auc"}, "'auc'"),
        ("gates", {"thresholds": {"roc_auc": 0.7, "r2": 0.1}}, "'r2'"),
        ("training", {"hyperparameters": {"estimator": "xgboost"}}, "'xgboost'"),
    ],
)
def test_an_unknown_name_fails_when_the_config_loads(section, change, named, tmp_path, breast_cancer_config):
    document = json.loads(breast_cancer_config.to_json())
    document[section].update(change)
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(document))

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert named in str(raised.value)


def test_the_inferred_config_loads(tmp_path, breast_cancer_config, penguins_config):
    for config in (breast_cancer_config, penguins_config):
        path = tmp_path / "pipeline.json"
        path.write_text(config.to_json())
        assert load_config(path) == config
