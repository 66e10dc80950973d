"""Schema inference for `mlops init`: a config from half the data accepts the other half."""

from __future__ import annotations

import pytest
from sklearn.datasets import load_diabetes, load_wine

from functions.validate_data.validation import validate_file
from mlops.schema_inference import SchemaInferenceError, infer_config, infer_config_from_file, summarize_config


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dataset,target", [("breast_cancer", "target"), ("penguins", "species")])
def test_config_from_one_half_accepts_the_other_half(dataset, target, seed, request, tmp_path):
    frame = request.getfixturevalue(dataset)
    half = frame.sample(frac=0.5, random_state=seed)
    config = infer_config(half, target)
    path = tmp_path / "other_half.csv"
    frame.drop(half.index).to_csv(path, index=False)

    outcome = validate_file(path, config)

    assert outcome.accepted, outcome.errors


def test_config_from_one_half_still_rejects_broken_files(breast_cancer, tmp_path):
    config = infer_config(breast_cancer.sample(frac=0.5, random_state=0), "target")
    broken = breast_cancer.assign(mean_area=-breast_cancer["mean_area"])
    path = tmp_path / "broken.csv"
    broken.to_csv(path, index=False)

    outcome = validate_file(path, config)

    assert ("range", "mean_area") in {(finding.check, finding.column) for finding in outcome.errors}


def test_inferred_types_ranges_categories_and_nulls(penguins):
    config = infer_config(penguins, "species")
    dataset = config.dataset

    assert dataset.problem_type == "multiclass"
    assert dataset.column("species").categories == ["Adelie", "Chinstrap", "Gentoo"]
    assert dataset.column("species").nullable is False
    assert dataset.column("island").type == "category"
    assert dataset.column("year").type == "integer"
    assert dataset.column("body_mass_g").type == "float"
    assert dataset.column("body_mass_g").minimum == 0, "all-positive data keeps a non-negative range"
    sex = dataset.column("sex")
    observed = penguins["sex"].isna().mean()
    assert sex.nullable and sex.max_null_fraction == pytest.approx(min(1.0, observed * 2 + 0.05), abs=1e-4)
    assert config.gates.primary_metric == "f1_macro" and config.gates.thresholds == {"f1_macro": 0.6}


@pytest.mark.parametrize(
    "loader,expected,metric",
    [
        ("breast_cancer", "binary", "roc_auc"),
        ("wine", "multiclass", "f1_macro"),
        ("diabetes", "regression", "r2"),
    ],
)
def test_problem_type_and_default_gate(loader, expected, metric, request):
    if loader == "breast_cancer":
        frame = request.getfixturevalue("breast_cancer")
    else:
        frame = (load_wine if loader == "wine" else load_diabetes)(as_frame=True).frame
    config = infer_config(frame, "target")

    assert config.dataset.problem_type == expected
    assert config.gates.primary_metric == metric
    assert metric in config.gates.thresholds


def test_summary_is_short_and_names_what_to_check(penguins):
    text = summarize_config(infer_config(penguins, "species"))

    lines = text.splitlines()
    assert len(lines) <= len(penguins.columns) + 4
    assert "multiclass classification of 'species'" in lines[0]
    assert any("island" in line and "Biscoe" in line for line in lines)


def test_inference_from_a_file_reads_like_an_upload(penguins, tmp_path):
    path = tmp_path / "penguins.csv"
    penguins.to_csv(path, index=False)

    config = infer_config_from_file(path, "species")

    assert config.dataset.column("year").type == "integer"
    assert config.dataset.column("bill_length_mm").type == "float"
    assert validate_file(path, config).accepted


def test_unusable_targets_are_typed_errors(penguins):
    with pytest.raises(SchemaInferenceError):
        infer_config(penguins, "no_such_column")
    with pytest.raises(SchemaInferenceError):
        infer_config(penguins.assign(constant="x"), "constant")
