"""Validating an uploaded table against the pipeline config; pure (local files only, no AWS).

`validate_file` reads the file in chunks (reader.py: Arrow's CSV reader, or the csv module
when Arrow cannot read the file exactly as it would), coerces each chunk (columns.py) and
accumulates per-column tallies, class counts, row content hashes (for duplicates and the
split) and a bounded row sample (for the profile and drift). A row's content hash combines
its coerced schema values, so rows that differ only in how a value is written ("3" and
"3.0" in an integer column) or in a column outside the schema are duplicates. Each row's split key (the
hash mixed with the split seed), class code or regression target and whether a column's
tolerance holds it back go to a RowKeyStore (row_keys.py), partitioned by key into bucket
files beside the upload, and duplicates and the split cut are found one bucket at a time, so
memory is bounded by the chunk and bucket sizes, not the row count (a regression target is
also kept in memory, 8 bytes a row, for its quantiles; a file to be scored keeps 1 bit a row
for the rows it leaves out). When `work_dir` is given for a training upload, the scan also
formats each row's curated line and keeps the lines on disk (line_spill.py), writing the rows
held back to the quarantine file as it goes; when the data is accepted, the curated split files
are written from those lines once the split is cut, without reading the upload again.

Every problem becomes a CheckFinding named by its check; unreadable input (DataUnreadableError)
becomes a single finding here and nowhere else.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from functions.common.column_work import each_column
from functions.common.config import ColumnSchema, DatasetSchema, PipelineConfig
from functions.common.contracts import CheckFinding
from functions.common.drift_profile import SAMPLE_ROWS, DriftComparison, build_profile, compare_to_baseline, profile_kind
from functions.common.errors import DataUnreadableError
from functions.validate_data.columns import CoercedColumn, coerce_column, format_number, raw_value
from functions.validate_data.csv_lines import csv_lines, write_lines
from functions.validate_data.line_spill import LineSpill
from functions.validate_data.read_ahead import read_ahead
from functions.validate_data import shards
from functions.validate_data.reader import ArrowPathUnavailable, MalformedRowsError, Table, open_table, shown_name
from functions.validate_data.row_keys import RowKeyStore
from functions.validate_data.splitting import (
    SPLIT_NAMES,
    KeySummary,
    mix_hashes,
    regression_edges,
    strata_by_edges,
    summarize_keys,
)

MAX_FINDINGS = 50
MAX_EXAMPLES_PER_FINDING = 5
MAX_REASON_PROBLEMS = 3
# A feature with more distinct values than this cannot be a relabelling of a class target.
MAX_LEAKAGE_PAIRS = 200
SAMPLE_SEED_SALT = 0x5A17
# The drift sample holds up to this many times SAMPLE_ROWS rows between trims.
SAMPLE_TRIM_FACTOR = 2
DISCRETE_TYPES = frozenset({"category", "boolean", "integer"})
# Below this many rows a feature can match the classes one-to-one by chance.
MIN_ROWS_FOR_RELABELLING_LEAKAGE = 30
ROW_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
ROW_HASH_ROTATION_BITS = np.uint64(27)
QUARANTINED_ROWS = "quarantined"
QUARANTINE_REASON_COLUMN = "quarantine_reason"
# Absorbs float rounding in (1 - mostly) * rows, so 0.99 of 100 rows tolerates exactly 1.
TOLERANCE_ROUNDING_ROWS = 1e-9
# "training": an upload under incoming/; "scoring": a file under batch/, checked without its target.
Purpose = Literal["training", "scoring"]


@dataclass
class ValidationOutcome:
    accepted: bool
    rows: int = 0
    file_format: str | None = None
    columns: list[str] = field(default_factory=list)
    errors: list[CheckFinding] = field(default_factory=list)
    warnings: list[CheckFinding] = field(default_factory=list)
    column_summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    class_counts: dict[str, int] = field(default_factory=dict)
    duplicate_rows: int = 0
    profile: dict[str, Any] | None = None
    drift: DriftComparison | None = None
    baseline_used: bool = False
    split_rows: dict[str, int] = field(default_factory=dict)
    # Split name -> file; QUARANTINED_ROWS names the rows held back, when there are any.
    split_files: dict[str, Path] = field(default_factory=dict)
    # Rows that failed a check within its column's tolerance (`mostly`): not in any split.
    quarantined_rows: int = 0

    @property
    def reason(self) -> str | None:
        return rejection_reason(self.errors) if self.errors else None


def rejection_reason(errors: list[CheckFinding]) -> str:
    described = [finding.message for finding in errors[:MAX_REASON_PROBLEMS]]
    remaining = len(errors) - len(described)
    text = "; ".join(described)
    if remaining > 0:
        text += f"; and {remaining} more problem(s)"
    return f"The data was rejected: {text}."


def validate_file(
    path: Path,
    config: PipelineConfig,
    baseline_profile: dict[str, Any] | None = None,
    *,
    work_dir: Path | None = None,
    file_name: str = "",
    max_decompressed_bytes: int | None = None,
    purpose: Purpose = "training",
) -> ValidationOutcome:
    """Check `path` against config.dataset; write curated splits into `work_dir` if accepted.

    `purpose` "scoring" checks a file to be scored (batch/): the same reader and column checks,
    without the target (a target column in the file is neither checked nor scored), and writes
    the rows to score in file order (scoring_rows.py) instead of splits."""
    scoring = purpose == "scoring"
    scan: _Scan | None = None
    try:
        table = open_table(path, config.validation, file_name or path.name, max_decompressed_bytes)
        header_errors = header_findings(table.columns, config.dataset, target_required=not scoring)
        if header_errors:
            # The verdict needs only the header: no row is read, whatever the file's width.
            return ValidationOutcome(accepted=False, file_format=table.format, columns=table.columns, errors=header_errors)
        scan = _Scan(table, config, scoring=scoring, lines_wanted=work_dir is not None)
        try:
            scan.run(read_ahead(table.iter_arrow_batches()))
        except ArrowPathUnavailable:
            scan.close()
            scan = _Scan(table, config, scoring=scoring, lines_wanted=work_dir is not None)
            scan.run(table.iter_chunks())
        try:
            return _finish(scan, table, config, baseline_profile, work_dir, scoring)
        finally:
            scan.close()
    except DataUnreadableError as error:
        if scan is not None:
            scan.close()
        examples = error.examples if isinstance(error, MalformedRowsError) else []
        finding = CheckFinding(check=error.check, message=str(error), examples=examples[:MAX_EXAMPLES_PER_FINDING])
        return ValidationOutcome(accepted=False, errors=[finding])


def _finish(
    scan: _Scan,
    table: Table,
    config: PipelineConfig,
    baseline_profile: dict[str, Any] | None,
    work_dir: Path | None,
    scoring: bool,
) -> ValidationOutcome:
    outcome = scan.outcome()
    sample = scan.sample_frame()
    if sample is not None:
        outcome.profile = build_profile(sample, config.dataset, config.drift.bins, scan.rows)
        if baseline_profile is not None:
            outcome.baseline_used = True
            outcome.drift = compare_to_baseline(baseline_profile, sample, config.dataset, config.drift)
            _add_drift_findings(outcome)
    outcome.errors = outcome.errors[:MAX_FINDINGS]
    outcome.warnings = outcome.warnings[:MAX_FINDINGS]
    outcome.accepted = not outcome.errors
    if outcome.accepted and scoring:
        flagged = scan.flagged_rows()
        outcome.quarantined_rows = int(flagged.sum())
        if work_dir is not None:
            from functions.validate_data.scoring_rows import write_scoring_rows

            outcome.split_files = write_scoring_rows(table, config, flagged, work_dir, arrow=scan.read_with_arrow)
    elif outcome.accepted:
        summary = scan.key_summary()
        outcome.quarantined_rows = summary.flagged_rows
        outcome.split_rows = dict(zip(SPLIT_NAMES, summary.split_rows))
        if work_dir is not None:
            try:
                outcome.split_files = write_splits(scan, work_dir)
                outcome.split_files.update(shards.write_train_parts(outcome.split_files["train"], shards.part_count(config)))
            except DataUnreadableError as error:
                # The file changed between passes (it cannot, being local) or the reader disagrees.
                outcome.accepted = False
                outcome.errors = [CheckFinding(check=error.check, message=str(error))]
    return outcome


def class_labels(target: CoercedColumn) -> tuple[np.ndarray, np.ndarray]:
    """Each row's class as text ("" where the target is empty or invalid) and the valid mask."""
    valid = ~target.null & ~target.invalid
    labels = target.labels if target.labels is not None else np.array(
        [format_number(number) if ok else "" for number, ok in zip(target.numbers, valid)], dtype=object
    )
    labels = labels.astype(object)
    labels[~valid] = ""
    return labels, valid


def class_codes(target: CoercedColumn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pd.factorize of class_labels(target) (each row's code, the labels in order of first
    appearance) and the valid mask; from the target's distinct labels when it has them, without
    hashing a string per row."""
    if target.label_codes is None:
        labels, valid = class_labels(target)
        codes, distinct = pd.factorize(labels)
        return codes, distinct, valid
    valid = ~target.null & ~target.invalid
    value_codes, labels = pd.factorize(target.label_values)
    labels = np.asarray(labels, dtype=object)
    # Rows that are empty or invalid have the class "" (as class_labels gives them).
    empty = np.flatnonzero(labels == "")
    if empty.size:
        empty_code = int(empty[0])
    else:
        empty_code = len(labels)
        labels = np.append(labels, np.array([""], dtype=object))
    rows = np.where(valid, value_codes[target.label_codes], empty_code)
    codes, present = pd.factorize(rows)
    return codes, labels[present], valid


def regression_target(target: CoercedColumn) -> np.ndarray:
    return np.where(~target.null & ~target.invalid, target.numbers, np.nan)


def row_failures(values: CoercedColumn, target: str) -> list[tuple[np.ndarray, str]]:
    """(mask, reason) for each row-level check of a column: the checks its `mostly` tolerates."""
    column = values.schema
    failures: list[tuple[np.ndarray, str]] = []
    valid = ~values.null & ~values.invalid
    if values.is_numeric:
        if column.minimum is not None:
            failures.append((valid & (values.numbers < column.minimum), f"below the minimum {format_number(column.minimum)}"))
        if column.maximum is not None:
            failures.append((valid & (values.numbers > column.maximum), f"above the maximum {format_number(column.maximum)}"))
    if values.labels is not None and column.type == "category" and column.categories and column.unseen_category == "error":
        unseen = valid & ~values.labels_in(column.categories)
        failures.append((unseen, "not one of the categories"))
    if column.name == target:
        # A row without its label cannot be trained on; within the tolerance it is held back.
        failures.append((values.null, "the target is empty"))
    elif not column.nullable:
        failures.append((values.null, "empty"))
    return failures


def _add_drift_findings(outcome: ValidationOutcome) -> None:
    for feature in outcome.drift.drifted:
        message = (
            f"column '{feature.column}' drifted from the production model's training data "
            f"(PSI {feature.psi:.3f}, {'fail' if feature.status == 'fail' else 'warn'} threshold "
            f"{feature.fail_psi if feature.status == 'fail' else feature.warn_psi})"
        )
        finding = CheckFinding(check="drift", column=feature.column, message=message)
        (outcome.errors if feature.status == "fail" else outcome.warnings).append(finding)


@dataclass
class _ColumnTally:
    schema: ColumnSchema
    nulls: int = 0
    invalid: int = 0
    invalid_examples: list[str] = field(default_factory=list)
    below: int = 0
    above: int = 0
    out_of_range_examples: list[str] = field(default_factory=list)
    unseen: Counter = field(default_factory=Counter)
    observed_min: float = np.inf
    observed_max: float = -np.inf
    identical_to_target: bool = True
    compared_rows: int = 0
    # (feature value, class) counts; None once the feature cannot be a relabelling of the classes
    # (more than MAX_LEAKAGE_PAIRS pairs, or a value seen with two classes or a class with two values).
    pairs: Counter | None = None
    # Rows failing a check that `mostly` tolerates (range, "error" categories, non-null).
    row_failures: int = 0


class _Scan:
    """First pass over the table: tallies, hashes and sample."""

    def __init__(self, table: Table, config: PipelineConfig, *, scoring: bool = False, lines_wanted: bool = False) -> None:
        self.table = table
        self.config = config
        self.schema = config.dataset
        self.scoring = scoring
        present = set(table.columns)
        if scoring:
            # A file to be scored is checked without its target, even when it has one.
            present.discard(self.schema.target)
        self.columns = [column for column in self.schema.columns if column.name in present]
        self.tallies = {column.name: _ColumnTally(column) for column in self.columns}
        if self.schema.problem_type != "regression":
            for tally in self.tallies.values():
                if tally.schema.type in DISCRETE_TYPES and tally.schema.name != self.schema.target:
                    tally.pairs = Counter()
        self.target_present = self.schema.target in present
        self.classification = self.schema.problem_type != "regression"
        self.rows = 0
        self.class_counts: Counter = Counter()
        # Per-row records, partitioned by key off the heap (row_keys.py): the split key (the row's
        # content hash mixed with the split seed), the class code or regression target, and
        # whether a tolerated check holds the row back.
        fields = [("key", np.uint64), ("flagged", np.bool_)]
        if self.target_present:
            fields.append(("class_code", np.int32) if self.classification else ("target", np.float64))
        self._keys = RowKeyStore(np.dtype(fields), table.max_rows, table.path.parent)
        self._class_ids: dict[str, int] = {}
        # np.quantile needs every target at once: regression keeps its targets (8 bytes a row).
        self._regression_targets: list[np.ndarray] = []
        # Scoring writes the rows to score in file order, leaving out flagged ones: 1 bit a row.
        self._flagged_bits: list[tuple[np.ndarray, int]] = []
        self._key_summary: KeySummary | None = None
        self._edges: tuple[np.ndarray | None] | None = None
        # The curated lines of a training upload whose splits are wanted (every schema column is
        # present: a missing one rejects the file at its header, before any row is read).
        self.lines: LineSpill | None = None
        if lines_wanted and not scoring and len(self.columns) == len(self.schema.columns):
            self.lines = LineSpill(table.path.parent, self._keys.dtype, [*table.columns, QUARANTINE_REASON_COLUMN])
        self._sample_columns: dict[str, np.ndarray] = {}
        self._sample_priority = np.zeros(0, dtype=np.uint64)
        self.read_with_arrow = False
        # Columns with nulls in an earlier chunk: their casts start with the one that allows them.
        self._empty_fields_seen: set[str] = set()

    def run(self, chunks) -> None:
        """Scan `chunks`: pandas frames (exact path) or Arrow record batches (fast path)."""
        try:
            for chunk in chunks:
                self.read_with_arrow = not isinstance(chunk, pd.DataFrame)
                self._scan_chunk(chunk)
        finally:
            # A chunk that stops the scan stops the reading too (read_ahead's thread and file)
            # now, not whenever the abandoned generator is collected.
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if self.rows == 0:
            raise DataUnreadableError("header_only", "the file has a header row but no data rows")

    def _scan_chunk(self, chunk) -> None:
        first_row = self.rows + 1
        self.rows += len(chunk)
        coerced_columns = each_column(
            lambda column: _coerced_and_hashed(chunk[column.name], column, column.name in self._empty_fields_seen),
            self.columns,
        )
        coerced = {column.name: values for column, (values, _) in zip(self.columns, coerced_columns)}
        self._empty_fields_seen.update(name for name, values in coerced.items() if values.null.any())
        hashes = combine_row_hashes([column_hashes for _, column_hashes in coerced_columns], len(chunk))
        records = np.zeros(len(chunk), dtype=self._keys.dtype)
        records["key"] = mix_hashes(hashes, self.config.split.seed)
        flagged = records["flagged"]
        for column in self.columns:
            self._tally_column(self.tallies[column.name], coerced[column.name], chunk[column.name], first_row)
            for mask, _ in row_failures(coerced[column.name], self.schema.target):
                self.tallies[column.name].row_failures += int(mask.sum())
                flagged |= mask
        if self.scoring:
            self._flagged_bits.append((np.packbits(flagged), len(flagged)))
        if self.target_present:
            target = coerced[self.schema.target]
            self._tally_target(target, records)
            class_code = records["class_code"] if self.classification else None
            for column in self.columns:
                if column.name != self.schema.target:
                    self._tally_leakage(self.tallies[column.name], coerced[column.name], target, class_code)
        self._keys.add(records)
        if self.lines is not None:
            self._keep_lines(chunk, [coerced[column.name] for column in self.columns], records)
        self._keep_sample(coerced, hashes)

    def _keep_lines(self, chunk: Any, coerced: list[CoercedColumn], records: np.ndarray) -> None:
        import pyarrow as pa

        lines = csv_lines(coerced)
        flagged = records["flagged"]
        positions = np.flatnonzero(flagged)
        if positions.size:
            self.lines.add_quarantined(quarantined_rows(chunk, self.table.columns, coerced, positions, self.schema.target))
            kept = ~flagged
            self.lines.add(records[kept], lines.filter(pa.array(kept)))
        else:
            self.lines.add(records, lines)

    def _tally_column(self, tally: _ColumnTally, values: CoercedColumn, raw: Any, first_row: int) -> None:
        column = tally.schema
        tally.nulls += int(values.null.sum())
        if values.invalid.any():
            tally.invalid += int(values.invalid.sum())
            _extend_examples(tally.invalid_examples, raw, values.invalid, first_row)
        valid = ~values.null & ~values.invalid
        if values.is_numeric and valid.any():
            numbers = values.numbers[valid]
            tally.observed_min = min(tally.observed_min, float(numbers.min()))
            tally.observed_max = max(tally.observed_max, float(numbers.max()))
            below = valid & (values.numbers < column.minimum) if column.minimum is not None else np.zeros_like(valid)
            above = valid & (values.numbers > column.maximum) if column.maximum is not None else np.zeros_like(valid)
            tally.below += int(below.sum())
            tally.above += int(above.sum())
            if below.any() or above.any():
                _extend_examples(tally.out_of_range_examples, raw, below | above, first_row)
        if values.labels is not None and column.type == "category" and column.categories:
            unseen = valid & ~values.labels_in(column.categories)
            if unseen.any():
                tally.unseen.update(pd.Series(values.labels[unseen], dtype=object).value_counts().to_dict())

    def _tally_target(self, target: CoercedColumn, records: np.ndarray) -> None:
        if self.classification:
            codes, distinct, valid = class_codes(target)
            counts = np.bincount(codes[valid], minlength=len(distinct))
            self.class_counts.update({label: int(count) for label, count in zip(distinct, counts) if count})
            class_ids = np.array([self._class_ids.setdefault(label, len(self._class_ids)) for label in distinct], dtype=np.int64)
            records["class_code"] = class_ids[codes]
        else:
            values = regression_target(target)
            records["target"] = values
            self._regression_targets.append(values)

    def _tally_leakage(
        self, tally: _ColumnTally, feature: CoercedColumn, target: CoercedColumn, class_code: np.ndarray | None
    ) -> None:
        if tally.identical_to_target:
            both_null = feature.null & target.null
            if feature.labels is not None and target.labels is not None:
                equal = ~feature.null & ~target.null & (feature.labels == target.labels)
            else:
                equal = ~feature.null & ~target.null & (feature.numbers == target.numbers)
            tally.compared_rows += int(equal.sum())
            if not bool((equal | both_null).all()):
                tally.identical_to_target = False
        if self.classification and tally.pairs is not None:
            valid = ~feature.null & ~feature.invalid & ~target.null & ~target.invalid
            if _cannot_be_relabelling(feature, class_code, valid):
                tally.pairs = None
                return
            feature_keys = feature.labels if feature.labels is not None else feature.numbers
            target_keys = target.labels if target.labels is not None else target.numbers
            pairs = pd.DataFrame({"feature": feature_keys[valid], "target": target_keys[valid]}).value_counts()
            tally.pairs.update({(str(key[0]), str(key[1])): int(count) for key, count in pairs.items()})
            if len(tally.pairs) > MAX_LEAKAGE_PAIRS or not _one_to_one(tally.pairs):
                tally.pairs = None

    def _keep_sample(self, coerced: dict[str, CoercedColumn], hashes: np.ndarray) -> None:
        """Keep the SAMPLE_ROWS rows with the smallest seeded hashes seen so far."""
        priority = mix_hashes(hashes, self.config.split.seed ^ SAMPLE_SEED_SALT)
        candidates = np.arange(len(priority))
        if len(self._sample_priority) >= SAMPLE_ROWS:
            largest_kept = np.partition(self._sample_priority, SAMPLE_ROWS - 1)[SAMPLE_ROWS - 1]
            candidates = np.flatnonzero(priority < largest_kept)
        if len(candidates) > SAMPLE_ROWS:
            candidates = candidates[np.argpartition(priority[candidates], SAMPLE_ROWS - 1)[:SAMPLE_ROWS]]
        if len(candidates) == 0:
            return
        for name, values in coerced.items():
            missing = values.null[candidates] | values.invalid[candidates]
            if profile_kind(values.schema) == "numeric":
                kept = np.where(missing, np.nan, values.numbers[candidates])
            else:
                kept = values.labels[candidates].astype(object)
                kept[missing] = None
            previous = self._sample_columns.get(name)
            self._sample_columns[name] = kept if previous is None else np.concatenate([previous, kept])
        self._sample_priority = np.concatenate([self._sample_priority, priority[candidates]])
        # Trimmed when twice the sample, not at every chunk: cutting every column's rows (object
        # arrays for labels) is the costly part, and keeping more rows than needed changes nothing.
        if len(self._sample_priority) > SAMPLE_TRIM_FACTOR * SAMPLE_ROWS:
            self._trim_sample()

    def _trim_sample(self) -> None:
        """Keep the SAMPLE_ROWS smallest priorities (rows of equal priority are identical rows)."""
        if len(self._sample_priority) > SAMPLE_ROWS:
            keep = np.argpartition(self._sample_priority, SAMPLE_ROWS - 1)[:SAMPLE_ROWS]
            self._sample_priority = self._sample_priority[keep]
            self._sample_columns = {name: values[keep] for name, values in self._sample_columns.items()}

    def sample_frame(self) -> pd.DataFrame | None:
        """The kept rows in hash order, so the sample does not depend on the file's row order."""
        if not self._sample_columns:
            return None
        self._trim_sample()
        order = np.argsort(self._sample_priority, kind="stable")
        return pd.DataFrame({name: values[order] for name, values in self._sample_columns.items()})

    def flagged_rows(self) -> np.ndarray:
        """Rows that fail a check some column tolerates, in file order (kept when scoring only)."""
        if not self._flagged_bits:
            return np.zeros(0, dtype=bool)
        return np.concatenate([np.unpackbits(bits, count=rows).astype(bool) for bits, rows in self._flagged_bits])

    def _regression_edges(self) -> np.ndarray | None:
        if self.classification or not self.target_present:
            return None
        return regression_edges(np.concatenate(self._regression_targets) if self._regression_targets else np.zeros(0))

    def strata_of(self, records: np.ndarray) -> np.ndarray | None:
        """The split strata of stored records (None: one stratum)."""
        if not self.target_present:
            return None
        if self.classification:
            return records["class_code"]
        if self._edges is None:
            self._edges = (self._regression_edges(),)
        return strata_by_edges(records["target"], self._edges[0])

    def key_summary(self) -> KeySummary:
        """Duplicates, the split cut and its row counts, from the stored keys (computed once)."""
        if self._key_summary is None:
            self._key_summary = summarize_keys(self._keys, self.strata_of, self.classification, self.config.split)
        return self._key_summary

    def close(self) -> None:
        """Remove the stored keys and lines (files beside the upload for large tables)."""
        self._keys.close()
        if self.lines is not None:
            self.lines.close()

    def outcome(self) -> ValidationOutcome:
        outcome = ValidationOutcome(accepted=False, rows=self.rows, file_format=self.table.format, columns=self.table.columns)
        errors, warnings = outcome.errors, outcome.warnings
        for tally in self.tallies.values():
            self._column_findings(tally, errors, warnings)
            outcome.column_summaries[tally.schema.name] = self._summary(tally)
        if self.target_present:
            self._target_findings(errors)
            self._leakage_findings(errors)
        outcome.duplicate_rows = self.key_summary().duplicate_rows
        duplicate_fraction = outcome.duplicate_rows / max(self.rows, 1)
        # Training on duplicates biases a model; scoring them only repeats an answer. Nor does a
        # file to be scored need min_rows: one row is worth an answer.
        if not self.scoring and duplicate_fraction > self.schema.max_duplicate_fraction:
            errors.append(
                CheckFinding(
                    check="duplicate_rows",
                    message=f"{outcome.duplicate_rows} of {self.rows} rows are exact duplicates "
                    f"({duplicate_fraction:.0%}, at most {self.schema.max_duplicate_fraction:.0%} allowed)",
                )
            )
        if self.rows < self.schema.min_rows and not self.scoring:
            errors.append(
                CheckFinding(check="min_rows", message=f"the file has {self.rows} rows; at least {self.schema.min_rows} are required")
            )
        outcome.class_counts = {str(label): int(count) for label, count in sorted(self.class_counts.items())}
        return outcome

    def _column_findings(self, tally: _ColumnTally, errors: list[CheckFinding], warnings: list[CheckFinding]) -> None:
        column = tally.schema
        is_target = column.name == self.schema.target
        tolerated = 0 < tally.row_failures <= (1.0 - column.mostly) * self.rows + TOLERANCE_ROUNDING_ROWS
        # Findings of the row-level checks: warnings, their rows quarantined, within the tolerance.
        row_level = warnings if tolerated else errors
        tolerance_note = (
            f" (within the column's tolerance of {1.0 - column.mostly:.2%} of rows; those rows are quarantined)"
            if tolerated
            else ""
        )
        if tally.invalid:
            expected = {
                "integer": "whole numbers",
                "float": "numbers",
                "boolean": "true/false/1/0",
                "category": "labels",
                "date": "dates",
                "ignore": "values",
            }[column.type]
            errors.append(
                CheckFinding(
                    check="target_type" if is_target else "type",
                    column=column.name,
                    message=f"column '{column.name}' has {tally.invalid} value(s) that are not {expected} ({column.type} expected)",
                    examples=tally.invalid_examples,
                )
            )
        if tally.below or tally.above:
            row_level.append(
                CheckFinding(
                    check="range",
                    column=column.name,
                    message=f"column '{column.name}' has {tally.below + tally.above} value(s) outside "
                    f"[{_bound(column.minimum)}, {_bound(column.maximum)}]{tolerance_note}",
                    examples=tally.out_of_range_examples,
                )
            )
        if tally.unseen:
            unseen_rows = sum(tally.unseen.values())
            finding = CheckFinding(
                check="unseen_category",
                column=column.name,
                message=f"column '{column.name}' has {unseen_rows} value(s) in {len(tally.unseen)} unseen categories"
                + (tolerance_note if column.unseen_category == "error" else ""),
                examples=[f"{value!r} ({count} rows)" for value, count in tally.unseen.most_common(MAX_EXAMPLES_PER_FINDING)],
            )
            (row_level if column.unseen_category == "error" else warnings).append(finding)
        if tally.nulls:
            null_fraction = tally.nulls / max(self.rows, 1)
            if is_target:
                row_level.append(
                    CheckFinding(
                        check="target_nulls",
                        column=column.name,
                        message=f"the target column '{column.name}' is empty in {tally.nulls} row(s){tolerance_note}",
                    )
                )
            elif not column.nullable:
                row_level.append(
                    CheckFinding(
                        check="nulls",
                        column=column.name,
                        message=f"column '{column.name}' must not be empty but is empty in {tally.nulls} row(s){tolerance_note}",
                    )
                )
            elif null_fraction > column.max_null_fraction:
                errors.append(
                    CheckFinding(
                        check="nulls",
                        column=column.name,
                        message=f"column '{column.name}' is empty in {null_fraction:.0%} of rows "
                        f"(at most {column.max_null_fraction:.0%} allowed)",
                    )
                )

    def _target_findings(self, errors: list[CheckFinding]) -> None:
        target = self.schema.target
        if not self.classification:
            if self.schema.column(target).type not in {"integer", "float"}:
                errors.append(
                    CheckFinding(
                        check="target_type",
                        column=target,
                        message=f"a regression target must be numeric but '{target}' is declared "
                        f"{self.schema.column(target).type}",
                    )
                )
            return
        counts = self.class_counts
        if len(counts) < 2:
            errors.append(
                CheckFinding(
                    check="single_class",
                    column=target,
                    message=f"the target '{target}' has {len(counts)} class(es); at least 2 are needed to train",
                    examples=[f"{label!r}: {count} rows" for label, count in counts.most_common(MAX_EXAMPLES_PER_FINDING)],
                )
            )
            return
        if self.schema.problem_type == "binary" and len(counts) > 2:
            errors.append(
                CheckFinding(
                    check="class_count",
                    column=target,
                    message=f"the target '{target}' of a binary problem has {len(counts)} classes",
                    examples=[f"{label!r}: {count} rows" for label, count in counts.most_common(MAX_EXAMPLES_PER_FINDING)],
                )
            )
        rare = [(label, count) for label, count in sorted(counts.items()) if count < self.schema.min_rows_per_class]
        if rare:
            errors.append(
                CheckFinding(
                    check="min_rows_per_class",
                    column=target,
                    message=f"{len(rare)} class(es) of '{target}' have fewer than "
                    f"{self.schema.min_rows_per_class} rows",
                    examples=[f"{label!r}: {count} rows" for label, count in rare[:MAX_EXAMPLES_PER_FINDING]],
                )
            )

    def _leakage_findings(self, errors: list[CheckFinding]) -> None:
        target = self.schema.target
        for tally in self.tallies.values():
            name = tally.schema.name
            if name == target:
                continue
            if tally.identical_to_target and tally.compared_rows > 0:
                errors.append(
                    CheckFinding(
                        check="leakage",
                        column=name,
                        message=f"column '{name}' is identical to the target '{target}' (target leakage)",
                    )
                )
            elif self.classification and tally.pairs and self._is_relabelling(tally.pairs):
                errors.append(
                    CheckFinding(
                        check="leakage",
                        column=name,
                        message=f"column '{name}' maps one-to-one onto the classes of '{target}' (target leakage)",
                        examples=[f"{feature!r} -> {label!r}" for feature, label in list(tally.pairs)[:MAX_EXAMPLES_PER_FINDING]],
                    )
                )

    def _is_relabelling(self, pairs: Counter) -> bool:
        labels = {label for _, label in pairs}
        covered_rows = sum(pairs.values())
        return (
            len(labels) >= 2
            and covered_rows >= MIN_ROWS_FOR_RELABELLING_LEAKAGE
            and _one_to_one(pairs)
            and covered_rows >= 0.99 * sum(self.class_counts.values())
        )

    def _summary(self, tally: _ColumnTally) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "type": tally.schema.type,
            "nulls": tally.nulls,
            "null_fraction": round(tally.nulls / max(self.rows, 1), 6),
            "invalid": tally.invalid,
            "row_failures": tally.row_failures,
        }
        if tally.schema.type in {"integer", "float"} and np.isfinite(tally.observed_min):
            summary.update(observed_min=tally.observed_min, observed_max=tally.observed_max, out_of_range=tally.below + tally.above)
        if tally.unseen:
            summary["unseen_categories"] = dict(tally.unseen.most_common(MAX_EXAMPLES_PER_FINDING))
        return summary


def header_findings(columns: list[str], schema: DatasetSchema, *, target_required: bool = True) -> list[CheckFinding]:
    """What the header alone shows: a missing target (when required), missing or unexpected columns."""
    errors: list[CheckFinding] = []
    present = set(columns)
    if target_required and schema.target not in present:
        errors.append(
            CheckFinding(
                check="missing_target",
                column=schema.target,
                message=f"the target column {shown_name(schema.target)} is missing",
                examples=_header_examples(columns),
            )
        )
    missing = [column.name for column in schema.feature_columns if column.name not in present]
    if missing:
        errors.append(
            CheckFinding(
                check="missing_columns",
                column=missing[0] if len(missing) == 1 else None,
                message=f"{len(missing)} required column(s) are missing: {_name_list(missing)}",
                examples=missing[:MAX_EXAMPLES_PER_FINDING],
            )
        )
    expected = {column.name for column in schema.columns}
    unexpected = [name for name in columns if name not in expected]
    if unexpected and not schema.allow_extra_columns:
        errors.append(
            CheckFinding(
                check="unexpected_columns",
                column=unexpected[0] if len(unexpected) == 1 else None,
                message=f"{len(unexpected)} column(s) are not in the schema: {_name_list(unexpected)}",
                examples=unexpected[:MAX_EXAMPLES_PER_FINDING],
            )
        )
    return errors


def _cannot_be_relabelling(feature: CoercedColumn, class_code: np.ndarray, valid: np.ndarray) -> bool:
    """Whether this chunk alone shows that the feature does not map one-to-one onto the classes:
    more than MAX_LEAKAGE_PAIRS distinct values, or a value seen with two classes. Each is
    enough to drop the feature's pair tally (pairs are only ever added), and both are found
    from integer codes instead of counting (value, class) pairs of strings.

    The feature's codes tell its values apart exactly as their texts do (labels through their
    distinct values; numbers by bit pattern, as repr tells -0.0 from 0.0), and a class code
    stands for one class label, so neither finding can be a false one."""
    if feature.label_codes is not None:
        value_codes = pd.factorize(feature.label_values)[0][feature.label_codes[valid]]
        values = int(value_codes.max()) + 1 if value_codes.size else 0
        present_values = int(np.count_nonzero(np.bincount(value_codes))) if value_codes.size else 0
    elif feature.labels is None:
        value_codes, distinct = pd.factorize(np.ascontiguousarray(feature.numbers[valid]).view(np.uint64))
        values = present_values = len(distinct)
    else:
        return False
    if present_values > MAX_LEAKAGE_PAIRS:
        return True
    if not value_codes.size:
        return False
    classes = int(class_code.max()) + 1
    seen = np.zeros(values * classes, dtype=bool)
    seen[value_codes.astype(np.int64) * classes + class_code[valid]] = True
    return bool((seen.reshape(values, classes).sum(axis=1) > 1).any())


def _one_to_one(pairs: Counter) -> bool:
    """Whether every feature value seen so far has one class and every class one feature value.
    Pairs are only ever added, so a tally that is not one-to-one never becomes one again."""
    features = {feature for feature, _ in pairs}
    labels = {label for _, label in pairs}
    return len(features) == len(labels) == len(pairs)


def _coerced_and_hashed(raw: Any, schema: ColumnSchema, empty_fields_seen: bool) -> tuple[CoercedColumn, np.ndarray]:
    values = coerce_column(raw, schema, empty_fields_seen=empty_fields_seen)
    return values, values.content_hashes()


def combine_row_hashes(column_hashes: list[np.ndarray], rows: int) -> np.ndarray:
    """One well-spread uint64 per row from its columns' value hashes (order of columns matters)."""
    combined = np.zeros(rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for values in column_hashes:
            rotated = (combined << ROW_HASH_ROTATION_BITS) | (combined >> (np.uint64(64) - ROW_HASH_ROTATION_BITS))
            combined = (rotated ^ values) * ROW_HASH_MULTIPLIER
    return mix_hashes(combined, 0)


def _extend_examples(examples: list[str], raw: Any, mask: np.ndarray, first_row: int) -> None:
    room = MAX_EXAMPLES_PER_FINDING - len(examples)
    if room <= 0:
        return
    for position in np.flatnonzero(mask)[:room]:
        examples.append(f"row {first_row + int(position)}: {_clip(raw_value(raw, int(position)))!r}")


def _clip(value: Any, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _name_list(names: list[str]) -> str:
    shown = ", ".join(shown_name(name) for name in names[:MAX_EXAMPLES_PER_FINDING])
    return shown + (f" and {len(names) - MAX_EXAMPLES_PER_FINDING} more" if len(names) > MAX_EXAMPLES_PER_FINDING else "")


def _header_examples(columns: list[str]) -> list[str]:
    return [f"header: {_name_list(columns)}"]


def _bound(value: float | None) -> str:
    return "unbounded" if value is None else format_number(value)


def write_splits(scan: _Scan, work_dir: Path) -> dict[str, Path]:
    """The schema's columns, coerced, in schema order, one CSV per split, from the lines the scan
    kept (each row's split follows from its key by the cut); the rows held back go, as read from
    the file, with their reasons, to one more CSV."""
    schema = scan.schema
    cut = scan.key_summary().cut
    work_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: work_dir / f"{name}.csv" for name in SPLIT_NAMES}
    header = _csv_row([column.name for column in schema.columns]).encode("utf-8")
    streams = {name: path.open("wb") for name, path in paths.items()}
    try:
        for name in SPLIT_NAMES:
            streams[name].write(header)
        for records, lines in scan.lines.iter_chunks():
            assignment = cut.assign(records["key"], scan.strata_of(records), records["flagged"])
            for index, name in enumerate(SPLIT_NAMES):
                write_lines(streams[name], lines, assignment == index)
    finally:
        for stream in streams.values():
            stream.close()
    if scan.lines.quarantine_path is not None:
        paths[QUARANTINED_ROWS] = work_dir / f"{QUARANTINED_ROWS}.csv"
        shutil.move(scan.lines.quarantine_path, paths[QUARANTINED_ROWS])
    return paths


def _csv_row(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue()


def quarantined_rows(
    chunk: Any, columns: list[str], coerced: list[CoercedColumn], positions: np.ndarray, target: str
) -> list[list[Any]]:
    """The rows at `positions` with every field as read, and why each was held back."""
    reasons: list[list[str]] = [[] for _ in positions]
    for values in coerced:
        for mask, reason in row_failures(values, target):
            for slot in np.flatnonzero(mask[positions]):
                value = _clip(raw_value_text(chunk[values.schema.name], int(positions[slot])))
                reasons[slot].append(f"{values.schema.name} = {value!r}: {reason}")
    raw = [[raw_value_text(chunk[name], int(position)) for position in positions] for name in columns]
    return [[*(field[row] for field in raw), "; ".join(reasons[row])] for row in range(len(positions))]


def raw_value_text(raw: Any, position: int) -> str:
    value = raw_value(raw, position)
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
