"""Drift (PSI) on real data and the deterministic split (no AWS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from functions.validate_data.splitting import TEST, TRAIN, VALIDATION, assign_splits
from functions.validate_data.validation import validate_file


def _profile_of(frame: pd.DataFrame, config, path: Path, baseline=None):
    frame.to_csv(path, index=False)
    return validate_file(path, config, baseline)


@pytest.fixture(scope="module")
def baselines(tmp_path_factory, breast_cancer, breast_cancer_config, penguins, penguins_config):
    folder = tmp_path_factory.mktemp("baselines")
    return {
        "breast_cancer": _profile_of(breast_cancer, breast_cancer_config, folder / "bc.csv").profile,
        "penguins": _profile_of(penguins, penguins_config, folder / "pg.csv").profile,
    }


@pytest.mark.parametrize("dataset,column", [("breast_cancer", "mean_texture"), ("breast_cancer", "worst_area"),
                                            ("penguins", "bill_depth_mm"), ("penguins", "body_mass_g")])
def test_half_a_standard_deviation_shift_is_flagged(dataset, column, request, baselines, tmp_path):
    frame = request.getfixturevalue(dataset)
    config = request.getfixturevalue(f"{dataset}_config")
    shifted = frame.copy()
    shifted[column] = shifted[column] + 0.5 * frame[column].std()

    outcome = _profile_of(shifted, config, tmp_path / "x.csv", baselines[dataset])

    flagged = {feature.column: feature for feature in outcome.drift.drifted}
    assert set(flagged) == {column}
    assert flagged[column].psi - flagged[column].noise_psi >= config.drift.warn_psi


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dataset", ["breast_cancer", "penguins"])
def test_a_bootstrap_resample_is_not_drift(dataset, seed, request, baselines, tmp_path):
    frame = request.getfixturevalue(dataset)
    config = request.getfixturevalue(f"{dataset}_config")
    resampled = frame.sample(frac=1.0, replace=True, random_state=seed)

    outcome = _profile_of(resampled, config, tmp_path / "x.csv", baselines[dataset])

    assert outcome.drift.drifted == []
    assert outcome.warnings == [] or {finding.check for finding in outcome.warnings} != {"drift"}


def test_a_category_mix_moved_by_twenty_points_is_flagged(penguins, penguins_config, baselines, tmp_path):
    # Given the island mix with 20 points moved from Dream to Biscoe
    frame = penguins.copy()
    dream = frame.index[frame["island"] == "Dream"]
    moved = int(round(0.20 * len(frame)))
    frame.loc[dream[:moved], "island"] = "Biscoe"

    outcome = _profile_of(frame, penguins_config, tmp_path / "x.csv", baselines["penguins"])

    assert "island" in {feature.column for feature in outcome.drift.drifted}


def test_split_is_deterministic_and_stable_under_row_order(breast_cancer, breast_cancer_config, tmp_path):
    frame = breast_cancer
    first = _split_membership(frame, breast_cancer_config, tmp_path / "a")
    again = _split_membership(frame, breast_cancer_config, tmp_path / "b")
    shuffled = _split_membership(frame.sample(frac=1.0, random_state=3), breast_cancer_config, tmp_path / "c")

    assert first == again
    assert first == shuffled


def _split_membership(frame, config, folder: Path) -> dict[str, frozenset]:
    folder.mkdir()
    path = folder / "x.csv"
    frame.to_csv(path, index=False)
    outcome = validate_file(path, config, work_dir=folder / "out")
    return {
        name: frozenset(map(tuple, pd.read_csv(outcome.split_files[name]).round(6).itertuples(index=False)))
        for name in ("train", "validation", "test")
    }


def test_split_is_stratified_and_sized_by_the_config(breast_cancer_config):
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, size=1000, dtype=np.uint64)
    strata = np.array([0] * 900 + [1] * 100)

    assignment = assign_splits(hashes, strata, breast_cancer_config.split)

    for stratum, size in ((0, 900), (1, 100)):
        members = assignment[strata == stratum]
        assert (members == TEST).sum() == round(size * breast_cancer_config.split.test_fraction)
        assert (members == VALIDATION).sum() == round(size * breast_cancer_config.split.validation_fraction)
        assert (members == TRAIN).sum() == size - (members != TRAIN).sum()
    other_seed = breast_cancer_config.split.model_copy(update={"seed": 1})
    assert not np.array_equal(assign_splits(hashes, strata, other_seed), assignment)


def test_moving_every_value_by_one_ulp_is_not_drift(breast_cancer, breast_cancer_config):
    # Given the breast cancer features and a discrete float column (sex coded 1.0 / 2.0)
    from functions.common.config import ColumnSchema
    from functions.common.drift_profile import build_profile, compare_to_baseline

    frame = breast_cancer.drop(columns=["target"]).assign(sex=np.where(np.arange(len(breast_cancer)) % 3, 1.0, 2.0))
    schema = breast_cancer_config.dataset.model_copy(
        update={"columns": [*breast_cancer_config.dataset.columns, ColumnSchema(name="sex", type="float")]}
    )
    baseline = build_profile(frame, schema, breast_cancer_config.drift.bins, len(frame))

    # When every value moves up by one unit in the last place (sex = 1.0000000000000002)
    moved = frame.apply(lambda values: np.nextafter(values.to_numpy(dtype=float), np.inf))
    comparison = compare_to_baseline(baseline, moved, schema, breast_cancer_config.drift)

    # Then no bin changes: every PSI is zero
    assert moved["sex"].iloc[1] == 1.0000000000000002
    assert {feature.column for feature in comparison.features} >= {"sex", "mean_radius", "worst_area"}
    assert {feature.column: feature.psi for feature in comparison.features if feature.psi != 0} == {}


def _with_levels(config, column: str, warn_psi: float, fail_psi: float):
    adjusted = config.model_copy(deep=True)
    schema_column = adjusted.dataset.column(column)
    schema_column.drift_warn_psi, schema_column.drift_fail_psi = warn_psi, fail_psi
    return adjusted


def test_a_columns_own_drift_levels_decide_its_verdict(breast_cancer, breast_cancer_config, baselines, tmp_path):
    # Given an upload whose mean_texture moved by half a standard deviation, a warning at the
    # project's levels
    shifted = breast_cancer.copy()
    shifted["mean_texture"] = shifted["mean_texture"] + 0.5 * breast_cancer["mean_texture"].std()
    baseline = baselines["breast_cancer"]
    at_project_levels = _profile_of(shifted, breast_cancer_config, tmp_path / "x.csv", baseline)
    [moved] = at_project_levels.drift.drifted
    signal = moved.psi - moved.noise_psi
    assert (moved.column, moved.status) == ("mean_texture", "warn") and at_project_levels.accepted
    assert breast_cancer_config.drift.warn_psi <= signal < breast_cancer_config.drift.fail_psi

    # When the column's own levels put that PSI above its fail level, or below its warn level
    strict = _profile_of(
        shifted, _with_levels(breast_cancer_config, "mean_texture", signal / 4, signal / 2), tmp_path / "x.csv", baseline
    )
    lenient = _profile_of(
        shifted, _with_levels(breast_cancer_config, "mean_texture", signal * 2, signal * 4), tmp_path / "x.csv", baseline
    )

    # Then the same shift rejects the upload under the strict levels and is no drift under the lenient ones
    assert not strict.accepted
    assert [(f.check, f.column) for f in strict.errors] == [("drift", "mean_texture")]
    assert f"fail threshold {signal / 2}" in strict.errors[0].message
    assert lenient.accepted and lenient.drift.drifted == []
    assert [f for f in lenient.warnings if f.check == "drift"] == []
    [judged] = [feature for feature in lenient.drift.features if feature.column == "mean_texture"]
    assert (judged.status, judged.warn_psi, judged.fail_psi) == ("ok", signal * 2, signal * 4)
