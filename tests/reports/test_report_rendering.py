"""The HTML reports as a browser renders them: headless Chromium loads each page and the DOM it
builds holds the charts a data scientist reads (every feature's reference and upload
distributions, per-class precision and recall and one-vs-rest curves for multiclass, predicted
against actual and residuals for regression), with numbers where the shapes go."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from functions.common.config import GateConfig
from functions.common.contracts import ValidateDataRequest, ValidateDataResult
from functions.common.model_metrics import ModelPredictions, compute_metrics, prepare_rows
from functions.evaluate_model.evaluation import ChampionEvidence, Comparison, decide
from functions.evaluate_model.report import build_document, model_section
from functions.evaluate_model.report import render_html as render_evaluation
from functions.validate_data.report import render_html as render_validation
from functions.validate_data.service import build_report
from functions.validate_data.storage import Baseline
from functions.validate_data.validation import rejection_reason, validate_file
from mlops.schema_inference import infer_config
from tests.support import datasets

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# A hang guard for one page load, not a speed goal.
RENDER_GUARD_SECONDS = 120
# Enough to warn about drift on one feature, not enough to reject the upload.
SHIFT_STANDARD_DEVIATIONS = 0.5


def chromium() -> str | None:
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)"
)


def rendered_dom(page: str, folder: Path) -> tuple[str, str]:
    """The DOM Chromium builds from the page, and what it logged."""
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    profile = folder / "chromium-profile"
    profile.mkdir()
    completed = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=RENDER_GUARD_SECONDS, env={**os.environ, "HOME": str(folder)},
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout, completed.stderr


class Charts(HTMLParser):
    """Each <svg> of the DOM with its shapes, and the captions and tables around them."""

    def __init__(self) -> None:
        super().__init__()
        self.svgs: list[dict] = []
        self.text: list[str] = []
        self._in_svg = False

    def handle_starttag(self, tag: str, attributes: list[tuple[str, str | None]]) -> None:
        values = dict(attributes)
        if tag == "svg":
            self._in_svg = True
            self.svgs.append({"label": values.get("aria-label"), "shapes": [], "numbers": []})
        elif self._in_svg and tag in {"rect", "circle", "polyline", "line"}:
            self.svgs[-1]["shapes"].append(tag)
            self.svgs[-1]["numbers"].extend(
                value for name, value in attributes if name in {"x", "y", "width", "height", "cx", "cy", "points", "x1", "y1"}
            )

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._in_svg = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def charts_of(dom: str) -> Charts:
    parsed = Charts()
    parsed.feed(dom)
    return parsed


def assert_drawn_with_numbers(charts: Charts) -> None:
    for svg in charts.svgs:
        assert svg["shapes"], f"{svg['label']} has nothing drawn"
        assert not [n for n in svg["numbers"] if n is None or re.search(r"nan|inf", n, re.IGNORECASE)], svg["label"]


def assert_no_page_errors(log: str) -> None:
    assert "Uncaught" not in log and "CONSOLE" not in log, log[-2000:]


def classification_predictions(model, features: pd.DataFrame) -> ModelPredictions:
    classes = tuple(str(label) for label in model.classes_)
    return ModelPredictions(np.array([str(label) for label in model.predict(features)]), classes, model.predict_proba(features))


@needs_chromium
def test_an_accepted_uploads_validation_report_draws_every_features_distributions(tmp_path):
    frame = datasets.breast_cancer()
    config = infer_config(frame, "target")
    baseline_file = tmp_path / "baseline.csv"
    frame.to_csv(baseline_file, index=False)
    baseline = validate_file(baseline_file, config, None).profile
    moved = frame.copy()
    moved["mean_radius"] += SHIFT_STANDARD_DEVIATIONS * frame["mean_radius"].std()
    upload = tmp_path / "upload.csv"
    moved.to_csv(upload, index=False)
    outcome = validate_file(upload, config, baseline)
    assert outcome.accepted and outcome.drift is not None
    features = outcome.drift.to_dict()["features"]
    report = {"outcome": "accepted", "rows": outcome.rows, "columns": outcome.column_summaries,
              "drift": {"note": "compared with version 1", **outcome.drift.to_dict()}}

    dom, log = rendered_dom(render_validation(report), tmp_path)

    charts = charts_of(dom)
    assert_no_page_errors(log)
    assert len(charts.svgs) == len(features)
    assert {column.name for column in config.dataset.feature_columns} <= {feature["column"] for feature in features}
    assert_drawn_with_numbers(charts)
    captions = [text for text in charts.text if "\u00b7 PSI" in text]
    # The drifted feature leads, the features that did not drift are drawn too.
    assert captions[0].startswith("mean_radius")
    assert any(text.endswith("ok") for text in captions)


@needs_chromium
def test_a_rejected_uploads_validation_report_draws_every_features_distributions_too(tmp_path):
    # Given an upload rejected for its duplicate rows, with one feature moved as well
    frame = datasets.breast_cancer()
    config = infer_config(frame, "target")
    baseline_file = tmp_path / "baseline.csv"
    frame.to_csv(baseline_file, index=False)
    baseline = validate_file(baseline_file, config, None).profile
    moved = pd.concat([frame, frame.iloc[::4]])
    moved["mean_radius"] += SHIFT_STANDARD_DEVIATIONS * frame["mean_radius"].std()
    upload = tmp_path / "upload.csv"
    moved.to_csv(upload, index=False)
    outcome = validate_file(upload, config, baseline)
    assert not outcome.accepted and "duplicate_rows" in {finding.check for finding in outcome.errors}
    result = ValidateDataResult(outcome="data_rejected", reason=rejection_reason(outcome.errors),
                                source_uri="s3://data/incoming/upload.csv", errors=outcome.errors)
    request = ValidateDataRequest(bucket="data", key="incoming/upload.csv",
                                  execution_arn="arn:aws:states:us-east-1:1:execution:p:run", execution_name="run")
    report = build_report(result, outcome, Baseline(None, None, baseline, "compared with version 1"), request,
                          datetime(2026, 1, 1, tzinfo=UTC))

    # When Chromium renders its page
    dom, log = rendered_dom(render_validation(report), tmp_path)

    # Then every feature's distributions are drawn, the moved one first, as for an accepted upload
    charts = charts_of(dom)
    assert_no_page_errors(log)
    assert len(charts.svgs) == len(report["drift"]["features"])
    assert {column.name for column in config.dataset.feature_columns} <= {f["column"] for f in report["drift"]["features"]}
    assert_drawn_with_numbers(charts)
    captions = [text for text in charts.text if "\u00b7 PSI" in text]
    assert captions[0].startswith("mean_radius")
    assert any(text.endswith("ok") for text in captions)


@needs_chromium
def test_a_multiclass_evaluation_report_has_per_class_metrics_and_one_vs_rest_curves(tmp_path):
    penguins = load_penguins().dropna()
    features = penguins[["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]]
    labels = penguins["species"].astype(str)
    challenger = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, labels)
    champion = make_pipeline(StandardScaler(), LogisticRegression()).fit(features[["body_mass_g"]], labels)
    challenger_rows = prepare_rows("multiclass", labels.to_numpy(), classification_predictions(challenger, features))
    champion_rows = prepare_rows("multiclass", labels.to_numpy(), classification_predictions(champion, features[["body_mass_g"]]))
    metrics, champion_metrics = compute_metrics(challenger_rows), compute_metrics(champion_rows)
    document = build_document(
        header={"primary_metric": "f1_macro", "problem_type": "multiclass", "rows": len(labels)},
        decision=decide(
            GateConfig(primary_metric="f1_macro", thresholds={"f1_macro": 0.6}),
            "multiclass",
            metrics,
            ChampionEvidence(
                label="v1",
                new_rows=Comparison("the new test rows", len(labels), metrics["f1_macro"], champion_metrics["f1_macro"]),
                reference=None,
                registered_score=None,
            ),
        ),
        challenger=model_section(challenger_rows, metrics),
        champion={"label": "v1", "endpoint_name": "ep", **model_section(champion_rows, champion_metrics)},
        primary_difference_interval=None,
    )

    dom, log = rendered_dom(render_evaluation(document), tmp_path)

    charts = charts_of(dom)
    assert_no_page_errors(log)
    assert_drawn_with_numbers(charts)
    labels_drawn = [svg["label"] for svg in charts.svgs]
    assert labels_drawn == ["Confusion matrix (challenger)", "Confusion matrix (champion)",
                            "One-vs-rest ROC (challenger)", "One-vs-rest ROC (champion)"]
    one_vs_rest = charts.svgs[2]
    assert one_vs_rest["shapes"].count("polyline") == 3  # Adelie, Chinstrap and Gentoo against the rest
    text = " ".join(charts.text)
    assert "Per class" in text and "precision" in text and "recall" in text
    # Recall of each class, as the confusion matrix gives it, is what the page shows.
    matrix = document["challenger"]["confusion_matrix"]
    gentoo = matrix["labels"].index("Gentoo")
    recall = matrix["counts"][gentoo][gentoo] / sum(matrix["counts"][gentoo])
    assert f"{recall:.4f}" in dom


@needs_chromium
def test_a_regression_evaluation_report_shows_predicted_against_actual_and_residuals(tmp_path):
    diabetes = load_diabetes(as_frame=True).frame
    features, target = diabetes.drop(columns=["target"]), diabetes["target"]
    model = LinearRegression().fit(features, target)
    rows = prepare_rows("regression", target.to_numpy(), ModelPredictions(model.predict(features)))
    metrics = compute_metrics(rows)
    document = build_document(
        header={"primary_metric": "r2", "problem_type": "regression", "rows": len(target)},
        decision=decide(GateConfig(primary_metric="r2", thresholds={"r2": 0.1}), "regression", metrics, None),
        challenger=model_section(rows, metrics),
        champion=None,
        primary_difference_interval=None,
    )

    dom, log = rendered_dom(render_evaluation(document), tmp_path)

    charts = charts_of(dom)
    assert_no_page_errors(log)
    assert_drawn_with_numbers(charts)
    assert [svg["label"] for svg in charts.svgs] == ["Predicted vs actual", "Residuals (predicted - actual)"]
    points = len(document["challenger"]["predicted_vs_actual"]["actual"])
    assert all(svg["shapes"].count("circle") == points for svg in charts.svgs)
    assert re.search(r'<svg[^>]*aria-label="Predicted vs actual"[^>]*', dom)
    assert 'width="560"' in dom
