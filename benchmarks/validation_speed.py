"""Validation speed: the same checks on the same CSV by this project and the tools people use
instead, against the time pyarrow needs only to parse the file (the floor), on two shapes.

Shapes (benchmarks/common.py): "all-float", the resampled breast cancer table (14 float
features and a 0/1 target); "mixed", a credit-application table (5 integer columns, 4 float
columns with 2-20 % empty values, 5 text columns and a good/bad target).

The check suite is generated from the shape's PipelineConfig, so every tool runs the same
checks: the exact column set; per column its type (whole numbers, numbers or labels), its
range when the config has one, its allowed labels when it has categories, and its nulls
(none, or at most max_null_fraction); then the duplicate-row fraction, the minimum row count
and the minimum rows per class. Great Expectations has no expectation for a minimum count per
value, so its suite lacks that one check.

Each tool runs in a fresh process (its imports not timed), reads the CSV itself (the pandas
based tools with pandas' pyarrow engine) and is timed over --repeats passes; the median is
printed. Beside the floor, a second yardstick reads the file and writes its rows back with
Arrow's C++ writer, without a check. This project is timed twice: `validate_file` alone (every check, the profile and
the split keys) and with the curated split files written, which is what an upload costs.
Peer tools are optional (pip install -e '.[benchmark]'); a missing one prints so.

    python -m benchmarks.validation_speed [--quick] [--repeats N] [--shape all-float|mixed]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import (
    FULL_ROWS,
    NOT_INSTALLED,
    QUICK_ROWS,
    benchmark_config,
    credit_config,
    credit_csv,
    dataset_csv,
    median_seconds,
    print_table,
)

SHAPES = {"all-float": (dataset_csv, benchmark_config), "mixed": (credit_csv, credit_config)}
FLOOR = "pyarrow read_csv (floor)"
# No checks: Arrow's own C++ CSV writer writing back the table it parsed, the least work any
# tool can do that reads the upload and writes its rows again, as a split writer must.
READ_WRITE = "pyarrow read_csv + write_csv, no checks"
PROJECT_WITH_SPLITS = "this project, curated splits written"
PROJECT = "this project, checks only"
TOOLS = (FLOOR, READ_WRITE, PROJECT_WITH_SPLITS, PROJECT, "polars", "pyarrow.compute", "pandas", "pandera", "Great Expectations")
REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS} rows instead of {FULL_ROWS}")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--shape", choices=sorted(SHAPES), action="append", help="default: both")
    parser.add_argument("--tool", choices=TOOLS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rows = QUICK_ROWS if args.quick else FULL_ROWS
    if args.tool:
        [shape] = args.shape
        print(json.dumps(run_tool(args.tool, shape, rows, args.repeats)))
        return
    for shape in args.shape or sorted(SHAPES):
        dataset, config = SHAPES[shape]
        path = dataset(rows)
        results = {tool: _in_fresh_process(tool, shape, args) for tool in TOOLS}
        floor = results[FLOOR]["seconds"]
        table = []
        for tool, result in results.items():
            if "problem" in result:
                table.append([tool, result["problem"], "", "", ""])
            else:
                table.append([tool, result["seconds"], result["seconds"] / floor, result["checks"], result["verdict"]])
        size_mb = path.stat().st_size / 1e6
        print_table(
            f"Validation, {shape}: {rows:,} rows x {len(config(rows).dataset.columns)} columns ({size_mb:.0f} MB CSV), "
            f"median of {args.repeats}, each tool in a fresh process",
            ["tool", "seconds", "x floor", "checks", "verdict"],
            table,
        )


def _in_fresh_process(tool: str, shape: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, "-m", "benchmarks.validation_speed", "--tool", tool, "--shape", shape, "--repeats", str(args.repeats)]
    if args.quick:
        command.append("--quick")
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env={**os.environ, "GX_ANALYTICS_ENABLED": "false"})
    if completed.returncode != 0:
        return {"problem": f"failed: {completed.stderr.strip().splitlines()[-1][:80] if completed.stderr.strip() else completed.returncode}"}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_tool(tool: str, shape: str, rows: int, repeats: int) -> dict:
    dataset, config_of = SHAPES[shape]
    path = dataset(rows)
    config = config_of(rows)
    suite = CheckSuite.of(config)
    try:
        run = _runner(tool, path, config, suite)
    except ImportError as error:
        return {"problem": NOT_INSTALLED if isinstance(error, ModuleNotFoundError) else f"does not import: {error}"[:80]}
    seconds, verdicts = median_seconds(run, repeats)
    return {"seconds": seconds, "checks": len(verdicts), "verdict": "accepted" if all(verdicts) else "rejected"}


class CheckSuite:
    """The checks every tool runs, from a PipelineConfig (see the module docstring)."""

    def __init__(self, columns, target, min_rows, min_rows_per_class, max_duplicate_fraction) -> None:
        self.columns = columns
        self.names = [column.name for column in columns]
        self.target = target
        self.min_rows = min_rows
        self.min_rows_per_class = min_rows_per_class
        self.max_duplicate_fraction = max_duplicate_fraction

    @classmethod
    def of(cls, config) -> CheckSuite:
        dataset = config.dataset
        return cls(dataset.columns, dataset.target, dataset.min_rows, dataset.min_rows_per_class, dataset.max_duplicate_fraction)

    @staticmethod
    def null_limit(column) -> float:
        return column.max_null_fraction if column.nullable else 0.0

    @staticmethod
    def allowed(column, numeric: bool) -> list:
        """The column's categories as the reader typed them (numbers when it read numbers)."""
        return [float(value) for value in column.categories] if numeric else list(column.categories)


def _runner(tool: str, path: Path, config, suite: CheckSuite):
    if tool in (FLOOR, READ_WRITE):
        import pyarrow.csv as pa_csv
    if tool == FLOOR:
        return lambda: [pa_csv.read_csv(path).num_rows > 0]
    if tool == READ_WRITE:

        def read_and_write() -> list[bool]:
            with tempfile.TemporaryDirectory() as work_dir:
                table = pa_csv.read_csv(path)
                pa_csv.write_csv(table, Path(work_dir) / "rows.csv")
            return [table.num_rows > 0]

        return read_and_write
    if tool in (PROJECT, PROJECT_WITH_SPLITS):
        from functions.validate_data.validation import validate_file

        def project() -> list[bool]:
            with tempfile.TemporaryDirectory() as work_dir:
                outcome = validate_file(path, config, work_dir=Path(work_dir) if tool == PROJECT_WITH_SPLITS else None)
            # One verdict per check the suite counts: every finding rejects.
            return [outcome.accepted] * _suite_size(suite)

        return project
    if tool == "pandas":
        import pandas  # noqa: F401

        return lambda: pandas_checks(path, suite)
    if tool == "pyarrow.compute":
        import pyarrow.compute  # noqa: F401

        return lambda: pyarrow_checks(path, suite)
    if tool == "polars":
        import polars  # noqa: F401

        return lambda: polars_checks(path, suite)
    if tool == "pandera":
        import pandera.pandas  # noqa: F401

        return lambda: pandera_checks(path, suite)
    import great_expectations  # noqa: F401

    return lambda: great_expectations_checks(path, suite)


def _suite_size(suite: CheckSuite) -> int:
    per_column = sum(
        2 + (column.minimum is not None or column.maximum is not None) + bool(column.categories) for column in suite.columns
    )
    return 1 + per_column + 3


def _bounds(column) -> tuple[float, float]:
    low = float("-inf") if column.minimum is None else column.minimum
    high = float("inf") if column.maximum is None else column.maximum
    return low, high


def pandas_checks(path: Path, suite: CheckSuite) -> list[bool]:
    import pandas as pd
    from pandas.api.types import is_float_dtype, is_integer_dtype, is_numeric_dtype

    frame = pd.read_csv(path, engine="pyarrow")
    verdicts = [list(frame.columns) == suite.names]
    for column in suite.columns:
        values = frame[column.name]
        present = values.dropna()
        if column.type == "integer":
            verdicts.append(is_integer_dtype(values) or (is_float_dtype(values) and bool((present % 1 == 0).all())))
        elif column.type == "float":
            verdicts.append(is_numeric_dtype(values))
        else:
            verdicts.append(True)
        if column.minimum is not None or column.maximum is not None:
            verdicts.append(bool(present.between(*_bounds(column)).all()))
        if column.categories:
            verdicts.append(bool(present.isin(suite.allowed(column, is_numeric_dtype(values))).all()))
        verdicts.append(float(values.isna().mean()) <= suite.null_limit(column))
    verdicts.append(float(frame.duplicated().mean()) <= suite.max_duplicate_fraction)
    verdicts.append(len(frame) >= suite.min_rows)
    verdicts.append(int(frame[suite.target].value_counts().min()) >= suite.min_rows_per_class)
    return verdicts


def pyarrow_checks(path: Path, suite: CheckSuite) -> list[bool]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    table = pa_csv.read_csv(path)
    rows = table.num_rows
    verdicts = [table.column_names == suite.names]
    for column in suite.columns:
        values = table.column(column.name)
        numeric = pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
        if column.type == "integer":
            verdicts.append(
                pa.types.is_integer(values.type)
                or (pa.types.is_floating(values.type) and pc.all(pc.equal(pc.floor(values), values)).as_py() is not False)
            )
        elif column.type == "float":
            verdicts.append(numeric)
        else:
            verdicts.append(True)
        if column.minimum is not None or column.maximum is not None:
            extremes = pc.min_max(values)
            low, high = _bounds(column)
            verdicts.append(extremes["min"].as_py() is None or (extremes["min"].as_py() >= low and extremes["max"].as_py() <= high))
        if column.categories:
            allowed = pa.array(suite.allowed(column, numeric)).cast(values.type)
            verdicts.append(pc.all(pc.is_in(values.drop_null(), value_set=allowed)).as_py() is not False)
        verdicts.append(values.null_count / rows <= suite.null_limit(column))
    distinct_rows = table.group_by(suite.names).aggregate([]).num_rows
    verdicts.append((rows - distinct_rows) / rows <= suite.max_duplicate_fraction)
    verdicts.append(rows >= suite.min_rows)
    verdicts.append(pc.min(pc.value_counts(table.column(suite.target)).field("counts")).as_py() >= suite.min_rows_per_class)
    return verdicts


def polars_checks(path: Path, suite: CheckSuite) -> list[bool]:
    import polars as pl

    frame = pl.read_csv(path)
    rows = frame.height
    verdicts = [frame.columns == suite.names]
    for column in suite.columns:
        values = frame.get_column(column.name)
        numeric = values.dtype.is_numeric()
        if column.type == "integer":
            verdicts.append(values.dtype.is_integer() or (values.dtype.is_float() and bool((values.drop_nulls() % 1 == 0).all())))
        elif column.type == "float":
            verdicts.append(numeric)
        else:
            verdicts.append(True)
        if column.minimum is not None or column.maximum is not None:
            low, high = _bounds(column)
            present = values.drop_nulls()
            verdicts.append(present.is_empty() or (present.min() >= low and present.max() <= high))
        if column.categories:
            allowed = pl.Series(suite.allowed(column, numeric)).cast(values.dtype)
            verdicts.append(bool(values.drop_nulls().is_in(allowed).all()))
        verdicts.append(values.null_count() / rows <= suite.null_limit(column))
    verdicts.append((rows - frame.n_unique()) / rows <= suite.max_duplicate_fraction)
    verdicts.append(rows >= suite.min_rows)
    verdicts.append(int(frame.get_column(suite.target).value_counts().get_column("count").min()) >= suite.min_rows_per_class)
    return verdicts


def pandera_checks(path: Path, suite: CheckSuite) -> list[bool]:
    import pandas as pd
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

    frame = pd.read_csv(path, engine="pyarrow")
    columns = {}
    for column in suite.columns:
        checks = []
        if column.minimum is not None or column.maximum is not None:
            checks.append(pa.Check.in_range(*_bounds(column)))
        if column.categories:
            checks.append(pa.Check.isin(suite.allowed(column, pd.api.types.is_numeric_dtype(frame[column.name]))))
        dtype = {"integer": int, "float": float}.get(column.type)
        columns[column.name] = pa.Column(dtype, checks=checks, nullable=column.nullable)
    table_checks = [
        pa.Check(lambda frame, name=column.name, limit=suite.null_limit(column): frame[name].isna().mean() <= limit)
        for column in suite.columns
        if column.nullable
    ] + [
        pa.Check(lambda frame: frame.duplicated().mean() <= suite.max_duplicate_fraction),
        pa.Check(lambda frame: len(frame) >= suite.min_rows),
        pa.Check(lambda frame: frame[suite.target].value_counts().min() >= suite.min_rows_per_class),
    ]
    schema = pa.DataFrameSchema(columns, checks=table_checks, strict=True, ordered=True)
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors:
        return [False] * _suite_size(suite)
    return [True] * _suite_size(suite)


def great_expectations_checks(path: Path, suite: CheckSuite) -> list[bool]:
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd

    frame = pd.read_csv(path, engine="pyarrow")
    context = gx.get_context(mode="ephemeral")
    batch_definition = (
        context.data_sources.add_pandas("benchmark").add_dataframe_asset("table").add_batch_definition_whole_dataframe("all")
    )
    expectations = gx.ExpectationSuite(name="benchmark")
    expectations.add_expectation(gxe.ExpectTableColumnsToMatchOrderedList(column_list=suite.names))
    for column in suite.columns:
        type_name = str(frame[column.name].dtype)
        expectations.add_expectation(gxe.ExpectColumnValuesToBeOfType(column=column.name, type_=type_name))
        if column.minimum is not None or column.maximum is not None:
            expectations.add_expectation(
                gxe.ExpectColumnValuesToBeBetween(column=column.name, min_value=column.minimum, max_value=column.maximum)
            )
        if column.categories:
            numeric = pd.api.types.is_numeric_dtype(frame[column.name])
            expectations.add_expectation(gxe.ExpectColumnValuesToBeInSet(column=column.name, value_set=suite.allowed(column, numeric)))
        expectations.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column.name, mostly=1 - suite.null_limit(column)))
    expectations.add_expectation(
        gxe.ExpectCompoundColumnsToBeUnique(column_list=suite.names, mostly=1 - suite.max_duplicate_fraction)
    )
    expectations.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=suite.min_rows))
    expectations = context.suites.add(expectations)
    result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(expectations)
    return [item.success for item in result.results]


if __name__ == "__main__":
    main()
