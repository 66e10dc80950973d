"""Champion request batching and response parsing; the report's HTML."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from functions.common.config import GateConfig
from functions.common.errors import ChampionUnavailableError
from functions.common.model_metrics import ModelPredictions, compute_metrics, prepare_rows
from functions.evaluate_model import champion
from functions.evaluate_model.evaluation import decide
from functions.evaluate_model.report import build_document, model_section, render_html, to_json


def test_batches_respect_the_row_limit_and_keep_row_order():
    features = pd.DataFrame({"x": np.arange(2500, dtype=float), "colour": ["red"] * 2500})

    batches = list(champion.request_batches(features))

    assert [rows for rows, _ in batches] == [1000, 1000, 500]
    instances = [i for _, body in batches for i in json.loads(body)["instances"]]
    assert [i["x"] for i in instances] == list(range(2500))


def test_batches_respect_the_byte_limit(monkeypatch):
    monkeypatch.setattr(champion, "MAX_PAYLOAD_BYTES", 2_000)
    features = pd.DataFrame({"text": ["y" * 90] * 100})

    batches = list(champion.request_batches(features))

    assert all(len(body) <= 2_000 for _, body in batches)
    assert sum(rows for rows, _ in batches) == 100
    assert len(batches) > 1


def test_missing_values_are_sent_as_json_null():
    features = pd.DataFrame({"x": [1.5, np.nan], "colour": ["red", None]})

    [(_, body)] = champion.request_batches(features)

    assert json.loads(body)["instances"] == [{"x": 1.5, "colour": "red"}, {"x": None, "colour": None}]


class _Body:
    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def read(self) -> bytes:
        return self.payload


class _Runtime:
    def __init__(self, responses: list[bytes]) -> None:
        self.responses = responses
        self.calls: list[dict] = []

    def invoke_endpoint(self, **kwargs):
        self.calls.append(kwargs)
        return {"Body": _Body(self.responses[len(self.calls) - 1])}


SERVING = champion.Champion("ep", "cfg", "AllTraffic", "m", 3, None)


def test_scores_are_parsed_with_classes_as_given_by_the_endpoint():
    runtime = _Runtime([json.dumps({"predictions": [1, 0], "probabilities": [[0.2, 0.8], [0.9, 0.1]], "classes": ["0", "1"]}).encode()])

    predictions = champion.score_rows(runtime, SERVING, pd.DataFrame({"x": [1.0, 2.0]}), True, "evaluation-run")

    assert list(predictions.labels) == [1, 0]
    assert predictions.classes == ("0", "1")
    assert runtime.calls[0]["InferenceId"] == "evaluation-run"
    assert runtime.calls[0]["TargetVariant"] == "AllTraffic"


@pytest.mark.parametrize(
    "payload",
    [b"not json", b'{"predictions": [1]}', b'{"predictions": [1, 0], "probabilities": [[0.5, 0.5]], "classes": ["0", "1"]}'],
)
def test_answers_that_cannot_be_scored_are_typed_errors(payload):
    with pytest.raises(ChampionUnavailableError):
        champion.score_rows(_Runtime([payload]), SERVING, pd.DataFrame({"x": [1.0, 2.0]}), True, "evaluation-run")


def test_inference_id_is_bounded():
    assert champion.inference_id_for("x" * 80) == "evaluation-" + "x" * 53


def test_html_report_is_self_contained_and_compares_both_models():
    y = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    score = np.array([0.1, 0.9, 0.7, 0.4, 0.6, 0.2, 0.3, 0.8])
    challenger_rows = prepare_rows("binary", y, ModelPredictions((score > 0.5).astype(int), ("0", "1"), np.column_stack([1 - score, score])), "1")
    champion_rows = prepare_rows("binary", y, ModelPredictions(np.ones(8, dtype=int), ("0", "1"), np.tile([0.4, 0.6], (8, 1))), "1")
    metrics, champion_metrics = compute_metrics(challenger_rows), compute_metrics(champion_rows)
    decision = decide(GateConfig(primary_metric="roc_auc", thresholds={"roc_auc": 0.7}), "binary", metrics, champion_metrics, "the champion (version 3)")
    champion_section = {"label": "the champion (version 3)", "endpoint_name": "ep", **model_section(champion_rows, champion_metrics)}

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
    assert "the champion (version 3)" in page
    assert "job&lt;1&gt;" in page and "job<1>" not in page
    assert "<script" not in page and "<link" not in page
