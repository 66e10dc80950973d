"""Validation speed: the same eight checks on the same CSV by this project, Great Expectations,
pandera and plain pandas, against the time pyarrow needs only to parse the file (the floor).

The eight checks: required columns, column types, numeric ranges of three columns, allowed
values of the target, the null fraction of two columns, the duplicate-row fraction, a minimum
row count and the target's class balance (every class at least MIN_CLASS_FRACTION of rows).
Every timing includes reading the CSV; the comparison tools read it with pandas' pyarrow engine,
and Great Expectations' time includes building its ephemeral context and suite.
This project's `validate_file` does more than the eight checks on the same pass (type checks
of every column, leakage, the drift profile sample and the split keys); it does not write the
split files here, as the other tools would not.

    python -m benchmarks.validation_speed [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import os

from benchmarks.common import (
    import_problem,
    FULL_ROWS,
    MAX_DUPLICATE_FRACTION,
    MAX_NULL_FRACTION,
    MIN_CLASS_FRACTION,
        NULLABLE_COLUMNS,
    QUICK_ROWS,
    RANGE_COLUMNS,
    TARGET,
    benchmark_config,
    dataset_csv,
    median_seconds,
    print_table,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS} rows instead of {FULL_ROWS}")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    rows = QUICK_ROWS if args.quick else FULL_ROWS
    path = dataset_csv(rows)
    config = benchmark_config(rows)
    ranges = {column.name: (column.minimum, column.maximum) for column in config.dataset.columns if column.name in RANGE_COLUMNS}
    columns = [column.name for column in config.dataset.columns]

    floor, _ = median_seconds(lambda: parse_with_pyarrow(path), args.repeats)
    results: list[list] = [["pyarrow parse only (floor)", floor, 1.0, "-"]]
    ours, outcome = median_seconds(lambda: validate_with_project(path, config), args.repeats)
    results.append(["this project (validate_file)", ours, ours / floor, "accepted" if outcome.accepted else "rejected"])
    for name, run in (
        ("Great Expectations", lambda: validate_with_great_expectations(path, columns, ranges, rows)),
        ("pandera", lambda: validate_with_pandera(path, columns, ranges)),
        ("plain pandas", lambda: validate_with_pandas(path, columns, ranges)),
    ):
        try:
            seconds, passed = median_seconds(run, args.repeats)
        except ImportError as error:
            results.append([name, import_problem(error), "", ""])
            continue
        results.append([name, seconds, seconds / floor, "accepted" if passed else "rejected"])
    size_mb = path.stat().st_size / 1e6
    print_table(
        f"Validation of {rows:,} rows x {len(columns)} columns ({size_mb:.0f} MB CSV), median of {args.repeats}",
        ["tool", "seconds", "x floor", "outcome"],
        results,
    )


def parse_with_pyarrow(path) -> int:
    import pyarrow.csv as pa_csv

    return pa_csv.read_csv(path).num_rows


def validate_with_project(path, config):
    from functions.validate_data.validation import validate_file

    return validate_file(path, config)


def _read_frame(path):
    import pandas as pd

    return pd.read_csv(path, engine="pyarrow")


def validate_with_great_expectations(path, columns, ranges, rows) -> bool:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = gx.get_context(mode="ephemeral")
    batch_definition = (
        context.data_sources.add_pandas("benchmark").add_dataframe_asset("table").add_batch_definition_whole_dataframe("all")
    )
    suite = context.suites.add(gx.ExpectationSuite(name="eight_checks"))
    suite.add_expectation(gxe.ExpectTableColumnsToMatchSet(column_set=columns, exact_match=True))
    for name in columns:
        suite.add_expectation(gxe.ExpectColumnValuesToBeOfType(column=name, type_="int64" if name == TARGET else "float64"))
    for name, (low, high) in ranges.items():
        suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column=name, min_value=low, max_value=high))
    suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column=TARGET, value_set=[0, 1]))
    for name in NULLABLE_COLUMNS:
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=name, mostly=1 - MAX_NULL_FRACTION))
    suite.add_expectation(gxe.ExpectCompoundColumnsToBeUnique(column_list=columns, mostly=1 - MAX_DUPLICATE_FRACTION))
    suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=min(rows, 1000)))
    suite.add_expectation(
        gxe.ExpectColumnMeanToBeBetween(column=TARGET, min_value=MIN_CLASS_FRACTION, max_value=1 - MIN_CLASS_FRACTION)
    )
    frame = _read_frame(path)
    return bool(batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(suite).success)


def validate_with_pandera(path, columns, ranges) -> bool:
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

    schema = pa.DataFrameSchema(
        {
            name: pa.Column(
                int if name == TARGET else float,
                checks=[pa.Check.isin([0, 1])] if name == TARGET else [pa.Check.in_range(*ranges[name])] if name in ranges else [],
                nullable=name != TARGET,
            )
            for name in columns
        },
        checks=[pa.Check(lambda frame, name=name: frame[name].isna().mean() <= MAX_NULL_FRACTION) for name in NULLABLE_COLUMNS]
        + [
            pa.Check(lambda frame: frame.duplicated().mean() <= MAX_DUPLICATE_FRACTION),
            pa.Check(lambda frame: len(frame) >= 1000),
            pa.Check(lambda frame: frame[TARGET].value_counts(normalize=True).min() >= MIN_CLASS_FRACTION),
        ],
        strict=True,
    )
    try:
        schema.validate(_read_frame(path), lazy=True)
    except SchemaErrors:
        return False
    return True


def validate_with_pandas(path, columns, ranges) -> bool:
    frame = _read_frame(path)
    features = [name for name in columns if name != TARGET]
    checks = [
        list(frame.columns) == columns,
        all(frame[name].dtype == "float64" for name in features) and frame[TARGET].dtype == "int64",
        all(frame[name].between(low, high).all() for name, (low, high) in ranges.items()),
        bool(frame[TARGET].isin([0, 1]).all()),
        all(frame[name].isna().mean() <= MAX_NULL_FRACTION for name in NULLABLE_COLUMNS),
        frame.duplicated().mean() <= MAX_DUPLICATE_FRACTION,
        len(frame) >= 1000,
        frame[TARGET].value_counts(normalize=True).min() >= MIN_CLASS_FRACTION,
    ]
    return all(checks)


if __name__ == "__main__":
    main()
