"""Drift speed: PSI of 13 numeric features, 1,000,000 reference rows vs 1,000,000 current rows.

This project: `build_profile` of the reference (quantile edges and bin fractions, what
profile.json stores) and `compare_to_baseline` of the current rows against it (PSI per
feature on the precomputed edges), timed separately and together. Compared with a plain
numpy PSI plus two-sample Kolmogorov-Smirnov statistic per feature, and with Evidently's
DataDriftPreset on the same two frames. The current rows are a second draw of the same
resampled breast cancer table with `mean_radius` shifted by half a standard deviation.

A second table times the mixed shape: the credit table's 9 numeric and 6 text columns (the
target included), 1,000,000 vs 1,000,000 rows held as pandas reads them (text in pandas'
default string dtype), with the `purpose` mix moved by 20 points in the current rows.

    python -m benchmarks.drift_speed [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import os

from benchmarks.common import (
    CREDIT_TEXT_COLUMNS,
    FULL_ROWS,
    QUICK_ROWS,
    TARGET,
    benchmark_config,
    breast_cancer_frame,
    credit_config,
    credit_frame,
    import_problem,
    median_seconds,
    print_table,
)

DRIFT_FEATURES = 13
SHIFTED_FEATURE = "mean_radius"
SHIFT_STANDARD_DEVIATIONS = 0.5
MOVED_CATEGORY_COLUMN = "purpose"
MOVED_CATEGORY_FRACTION = 0.2


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS} rows per side instead of {FULL_ROWS}")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    rows = QUICK_ROWS if args.quick else FULL_ROWS
    reference, current = drift_frames(rows)
    schema = benchmark_config(rows).dataset
    drift_config = benchmark_config(rows).drift

    from functions.common.drift_profile import build_profile, compare_to_baseline

    profile_seconds, profile = median_seconds(lambda: build_profile(reference, schema, drift_config.bins, rows), args.repeats)
    compare_seconds, comparison = median_seconds(lambda: compare_to_baseline(profile, current, schema, drift_config), args.repeats)
    flagged = ", ".join(feature.column for feature in comparison.drifted) or "none"
    total = profile_seconds + compare_seconds
    numpy_seconds, numpy_flagged = median_seconds(lambda: numpy_psi_ks(reference, current, drift_config.bins), args.repeats)
    results = [
        ["this project: PSI on stored edges", compare_seconds, compare_seconds / total, flagged],
        ["this project: reference profile", profile_seconds, profile_seconds / total, "-"],
        ["this project: profile + PSI", total, 1.0, flagged],
        ["plain numpy PSI + KS", numpy_seconds, numpy_seconds / total, numpy_flagged],
    ]
    try:
        evidently_seconds, evidently_flagged = median_seconds(lambda: evidently_drift(reference, current), 1)
        results.append(["Evidently DataDriftPreset (1 run)", evidently_seconds, evidently_seconds / total, evidently_flagged])
    except ImportError as error:
        results.append(["Evidently DataDriftPreset", import_problem(error), "", ""])
    print_table(
        f"Drift of {DRIFT_FEATURES} features, {rows:,} vs {rows:,} rows, median of {args.repeats}",
        ["tool", "seconds", "x ours (total)", "drifted features"],
        results,
    )
    mixed_drift(rows, args.repeats)


def mixed_drift(rows: int, repeats: int) -> None:
    """Profile + PSI of the credit table's numeric and category columns."""
    from functions.common.drift_profile import build_profile, compare_to_baseline

    config = credit_config(rows)
    reference = credit_frame(rows, seed=1)
    current = credit_frame(rows, seed=2)
    moved = current.index[: int(MOVED_CATEGORY_FRACTION * rows)]
    current.loc[moved, MOVED_CATEGORY_COLUMN] = CREDIT_TEXT_COLUMNS[MOVED_CATEGORY_COLUMN][0]
    bins = config.drift.bins
    profile_seconds, profile = median_seconds(lambda: build_profile(reference, config.dataset, bins, rows), repeats)
    compare_seconds, comparison = median_seconds(lambda: compare_to_baseline(profile, current, config.dataset, config.drift), repeats)
    flagged = ", ".join(feature.column for feature in comparison.drifted) or "none"
    total = profile_seconds + compare_seconds
    categories = sum(1 for column in config.dataset.columns if column.type == "category")
    print_table(
        f"Drift, mixed: {len(config.dataset.columns) - categories} numeric and {categories} category columns, "
        f"{rows:,} vs {rows:,} rows, median of {repeats}",
        ["part", "seconds", "x total", "drifted features"],
        [
            ["this project: PSI on stored edges and frequencies", compare_seconds, compare_seconds / total, flagged],
            ["this project: reference profile", profile_seconds, profile_seconds / total, "-"],
            ["this project: profile + PSI", total, 1.0, flagged],
        ],
    )


def drift_frames(rows: int):
    reference = breast_cancer_frame(rows, seed=1).drop(columns=[TARGET])
    current = breast_cancer_frame(rows, seed=2).drop(columns=[TARGET])
    features = list(reference.columns[:DRIFT_FEATURES])
    reference, current = reference[features], current[features].copy()
    current[SHIFTED_FEATURE] += SHIFT_STANDARD_DEVIATIONS * reference[SHIFTED_FEATURE].std()
    return reference, current


def numpy_psi_ks(reference, current, bins: int, warn_psi: float = 0.1) -> str:
    import numpy as np

    flagged = []
    for name in reference.columns:
        expected_values = reference[name].to_numpy()
        actual_values = current[name].to_numpy()
        edges = np.unique(np.quantile(expected_values, np.linspace(0, 1, bins + 1)[1:-1]))
        expected = np.bincount(np.searchsorted(edges, expected_values), minlength=len(edges) + 1) / len(expected_values)
        actual = np.bincount(np.searchsorted(edges, actual_values), minlength=len(edges) + 1) / len(actual_values)
        expected, actual = np.maximum(expected, 1e-4), np.maximum(actual, 1e-4)
        psi = float(np.sum((actual - expected) * np.log(actual / expected)))
        ordered_expected, ordered_actual = np.sort(expected_values), np.sort(actual_values)
        points = np.concatenate([ordered_expected, ordered_actual])
        ks = np.max(
            np.abs(
                np.searchsorted(ordered_expected, points, side="right") / len(ordered_expected)
                - np.searchsorted(ordered_actual, points, side="right") / len(ordered_actual)
            )
        )
        if psi >= warn_psi or ks > 0.1:
            flagged.append(name)
    return ", ".join(flagged) or "none"


def evidently_drift(reference, current) -> str:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    flagged = []
    for metric in snapshot.dict().get("metrics", []):
        name = str(metric.get("metric_name", ""))
        value = metric.get("value")
        if name.startswith("ValueDrift(") and isinstance(value, (int, float)):
            column = name.split("column=")[1].split(",")[0].rstrip(")")
            # Evidently's default for large numeric samples is the Wasserstein distance, threshold 0.1.
            if value >= 0.1:
                flagged.append(column)
    return ", ".join(flagged) or "none"


if __name__ == "__main__":
    main()
