"""What every benchmark shares: the generated dataset, its pipeline config, timing and tables.

The benchmark table is built from a real dataset: scikit-learn's Wisconsin breast cancer rows
(569 of them), resampled with replacement to the requested row count, keeping the first
FEATURE_COUNT features plus the 0/1 target (15 columns). Every feature value gets a small
seeded Gaussian jitter (JITTER_FRACTION of the column's standard deviation; absolute values
kept, as every feature is non-negative) and is written with FLOAT_DIGITS significant digits,
so rows are not all duplicates of 569 originals while the distributions stay those of the
real data. The file is generated once per (rows, seed) into
CACHE_DIR (override with $MLOPS_BENCHMARK_CACHE) and reused by later runs.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from functions.common.config import ColumnSchema, PipelineConfig

FEATURE_COUNT = 14
JITTER_FRACTION = 0.01
FLOAT_DIGITS = 4
DATA_SEED = 20240601
FULL_ROWS = 1_000_000
QUICK_ROWS = 100_000
TARGET = "target"
# The columns the comparison checks single out (ranges and null fractions).
RANGE_COLUMNS = ("mean_radius", "mean_texture", "mean_area")
NULLABLE_COLUMNS = ("mean_smoothness", "mean_compactness")
MAX_NULL_FRACTION = 0.05
MAX_DUPLICATE_FRACTION = 0.1
MIN_CLASS_FRACTION = 0.05
CACHE_DIR = Path(os.environ.get("MLOPS_BENCHMARK_CACHE", Path(tempfile.gettempdir()) / "mlops-benchmarks"))
NOT_INSTALLED = "not installed: pip install -e '.[benchmark]'"


def breast_cancer_frame(rows: int, seed: int = DATA_SEED):
    """The resampled, jittered breast cancer table described in the module docstring."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    original = load_breast_cancer(as_frame=True).frame
    original.columns = [str(name).replace(" ", "_") for name in original.columns]
    features = list(original.columns[:FEATURE_COUNT])
    rng = np.random.default_rng(seed)
    picked = original.iloc[rng.integers(0, len(original), size=rows)].reset_index(drop=True)
    frame = pd.DataFrame({TARGET: picked[TARGET].to_numpy()})
    for name in features:
        values = picked[name].to_numpy(dtype=float)
        jitter = rng.normal(0.0, JITTER_FRACTION * values.std(), size=rows)
        frame[name] = np.abs(values + jitter)
    return frame[features + [TARGET]]


def dataset_csv(rows: int, seed: int = DATA_SEED) -> Path:
    """Path of the cached CSV of `rows` rows, written on first use."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"breast_cancer_{rows}_{seed}.csv"
    if path.exists():
        return path
    frame = breast_cancer_frame(rows, seed)
    columns = {}
    for name in frame.columns:
        if name == TARGET:
            columns[name] = pa.array(frame[name].astype(str))
        else:
            rounded = frame[name].map(lambda value: float(f"{value:.{FLOAT_DIGITS}g}"))
            columns[name] = pc.cast(pa.array(rounded.to_numpy()), pa.string())
    partial = path.with_suffix(".partial")
    pacsv.write_csv(pa.table(columns), partial, pacsv.WriteOptions(quoting_style="none"))
    partial.rename(path)
    return path


def benchmark_config(rows: int):
    """A PipelineConfig that asks for the eight checks the comparison tools run (see validation_speed)."""
    from functions.common.config import ColumnSchema

    frame = breast_cancer_frame(2_000)
    columns = []
    for name in frame.columns:
        if name == TARGET:
            columns.append(ColumnSchema(name=name, type="category", categories=["0", "1"]))
            continue
        column = ColumnSchema(name=name, type="float", nullable=True, max_null_fraction=1.0)
        if name in RANGE_COLUMNS:
            column.minimum, column.maximum = 0.0, float(frame[name].max() * 2)
        if name in NULLABLE_COLUMNS:
            column.max_null_fraction = MAX_NULL_FRACTION
        columns.append(column)
    return _binary_config(TARGET, columns, rows)


def _binary_config(target: str, columns: list[ColumnSchema], rows: int) -> PipelineConfig:
    """The benchmarks' binary-classification config over `columns`, with row and class minimums
    scaled to `rows`."""
    from functions.common.config import DatasetSchema, GateConfig, PipelineConfig

    dataset = DatasetSchema(
        target=target,
        problem_type="binary",
        columns=columns,
        min_rows=min(rows, 1000),
        min_rows_per_class=int(MIN_CLASS_FRACTION * rows),
        max_duplicate_fraction=MAX_DUPLICATE_FRACTION,
    )
    return PipelineConfig(dataset=dataset, gates=GateConfig(primary_metric="roc_auc"))


def import_problem(error: ImportError) -> str:
    """What to print in place of a comparison tool that cannot be imported."""
    if isinstance(error, ModuleNotFoundError):
        return NOT_INSTALLED
    return f"does not import here: {type(error).__name__} ({str(error)[:48]}...)"


def median_seconds(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time of `repeats` calls, and the last call's result."""
    times = []
    result = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    cells = [header] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[index]) for row in cells) for index in range(len(header))]
    print(f"\n{title}")
    for number, row in enumerate(cells):
        print("  " + "  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())
        if number == 0:
            print("  " + "  ".join("-" * width for width in widths))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


# The mixed shape: a credit-application table of integer, float-with-nulls and text columns.
CREDIT_TARGET = "credit_risk"
CREDIT_TEXT_COLUMNS = {
    "employment": ["unemployed", "below_1_year", "1_to_4_years", "4_to_7_years", "7_years_or_more"],
    "housing": ["own", "rent", "for_free"],
    "purpose": ["car_new", "car_used", "furniture", "radio_tv", "appliances", "repairs", "education",
                "retraining", "business", "other"],
    "job": ["unskilled_non_resident", "unskilled_resident", "skilled", "highly_qualified"],
    "telephone": ["not_registered", "registered"],
}
CREDIT_INTEGER_RANGES = {"age": (18, 80), "credit_amount": (250, 20_000), "duration_months": (4, 72),
                         "existing_credits": (1, 4), "dependents": (0, 5)}
# Float columns and the fraction of their values left empty.
CREDIT_FLOAT_NULLS = {"income": 0.08, "installment_rate": 0.02, "savings_balance": 0.2, "debt_ratio": 0.05}


def credit_frame(rows: int, seed: int = DATA_SEED):
    """A seeded credit-application table: the integer, float-with-nulls and text columns of a
    typical tabular upload, with a good/bad target that depends on some of them."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(index=range(rows))
    for name, (low, high) in CREDIT_INTEGER_RANGES.items():
        frame[name] = rng.integers(low, high + 1, rows)
    frame["income"] = np.round(rng.lognormal(10.5, 0.6, rows), 2)
    frame["installment_rate"] = np.round(rng.random(rows) * 0.35, 3)
    frame["savings_balance"] = np.round(rng.exponential(5_000, rows), 2)
    frame["debt_ratio"] = np.round(rng.beta(2, 5, rows), 4)
    for name, values in CREDIT_TEXT_COLUMNS.items():
        frame[name] = rng.choice(values, rows)
    risk = 0.02 * (frame["duration_months"] - 30) + (frame["debt_ratio"] - 0.3) * 4 - (frame["age"] - 40) * 0.02
    frame[CREDIT_TARGET] = np.where(risk + rng.normal(0, 1, rows) > 0.5, "bad", "good")
    for name, fraction in CREDIT_FLOAT_NULLS.items():
        frame.loc[rng.random(rows) < fraction, name] = np.nan
    return frame


def credit_csv(rows: int, seed: int = DATA_SEED) -> Path:
    """Path of the cached credit CSV of `rows` rows, written on first use (empty fields for nulls)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"credit_{rows}_{seed}.csv"
    if not path.exists():
        partial = path.with_suffix(".partial")
        credit_frame(rows, seed).to_csv(partial, index=False, lineterminator="\n")
        partial.rename(path)
    return path


def credit_config(rows: int):
    """The PipelineConfig of the credit table: integer ranges, float null fractions, categories."""
    from functions.common.config import ColumnSchema

    columns = [ColumnSchema(name=name, type="integer", minimum=low, maximum=high) for name, (low, high) in CREDIT_INTEGER_RANGES.items()]
    columns += [
        ColumnSchema(name=name, type="float", minimum=0.0, nullable=True, max_null_fraction=min(1.0, 2 * fraction))
        for name, fraction in CREDIT_FLOAT_NULLS.items()
    ]
    columns += [ColumnSchema(name=name, type="category", categories=values) for name, values in CREDIT_TEXT_COLUMNS.items()]
    columns.append(ColumnSchema(name=CREDIT_TARGET, type="category", categories=["good", "bad"]))
    return _binary_config(CREDIT_TARGET, columns, rows)
