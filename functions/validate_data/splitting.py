"""Deterministic train/validation/test split.

Each row gets a key: its content hash mixed with config.split.seed (splitmix64). Within each
stratum (the class for classification, a target quantile band for regression) rows are ordered
by key; the first round(n * test_fraction) go to test, the next round(n * validation_fraction)
to validation, the rest to train. So the split depends only on the rows' content and the seed:
the same bytes always give the same split, and reordering the rows of a file puts every row in
the same split as before. Stratification keeps each class's share equal across splits.

Splits are cut at key thresholds, so identical rows (equal keys) always share a split and a
duplicated row never sits in both train and test; when copies straddle a cut, the split
before it gets a few rows fewer. `summarize_keys` finds the same cut from keys stored in
buckets (row_keys.py), one bucket in memory at a time; `SplitCut` then assigns rows chunk by
chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from functions.common.config import SplitConfig
from functions.validate_data.row_keys import RowKeyStore

SPLIT_NAMES = ("train", "validation", "test")
TRAIN, VALIDATION, TEST = 0, 1, 2
# The split index of a row held back in the row-level quarantine.
QUARANTINED = 3
REGRESSION_STRATA = 5
_UINT64_MASK = (1 << 64) - 1


def mix_hashes(hashes: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 finalizer of hash ^ seed: a well-spread uint64 key per row (in place on a copy)."""
    x = hashes.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= np.uint64(seed & _UINT64_MASK)
        x += np.uint64(0x9E3779B97F4A7C15)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def regression_strata(target: np.ndarray) -> np.ndarray:
    """Quantile band (0..REGRESSION_STRATA-1) of each target value; nulls form their own band."""
    return strata_by_edges(target, regression_edges(target))


def assign_splits(row_hashes: np.ndarray, strata: np.ndarray | None, split: SplitConfig) -> np.ndarray:
    """Split index (TRAIN, VALIDATION or TEST) of each row, in file order."""
    return assign_splits_by_key(mix_hashes(row_hashes, split.seed), strata, split)


def assign_splits_by_key(keys: np.ndarray, strata: np.ndarray | None, split: SplitConfig) -> np.ndarray:
    """As assign_splits, for keys already mixed with split.seed by mix_hashes."""
    assignment = np.full(len(keys), TRAIN, dtype=np.int8)
    for stratum, members in _strata_members(strata, len(keys)):
        ordered = _sorted_keys(keys, members)
        test_rows = int(round(len(ordered) * split.test_fraction))
        validation_rows = int(round(len(ordered) * split.validation_fraction))
        test_below = ordered[test_rows] if test_rows < len(ordered) else None
        end = test_rows + validation_rows
        validation_below = ordered[end] if end < len(ordered) else None
        del ordered
        in_stratum = np.ones(len(keys), dtype=bool) if members is None else members
        validation = in_stratum if validation_below is None else in_stratum & (keys < validation_below)
        assignment[validation] = VALIDATION
        test = in_stratum if test_below is None else in_stratum & (keys < test_below)
        assignment[test] = TEST
    return assignment


def count_duplicate_keys(keys: np.ndarray, strata: np.ndarray | None) -> int:
    """Rows whose key equals an earlier row's (identical rows share their stratum too)."""
    duplicates = 0
    for _, members in _strata_members(strata, len(keys)):
        ordered = _sorted_keys(keys, members)
        duplicates += int(np.count_nonzero(ordered[1:] == ordered[:-1]))
    return duplicates


def _sorted_keys(keys: np.ndarray, members: np.ndarray | None) -> np.ndarray:
    """A sorted copy of the members' keys (sorted in place: one copy, not two)."""
    ordered = keys.copy() if members is None else keys[members]
    ordered.sort()
    return ordered


def _strata_members(strata: np.ndarray | None, rows: int):
    """(stratum, mask of its rows) for each stratum present; a None mask means every row."""
    if strata is None:
        yield 0, None
        return
    for stratum in np.flatnonzero(np.bincount(strata)) if strata.size else []:
        yield int(stratum), strata == stratum


def regression_edges(target: np.ndarray) -> np.ndarray | None:
    """The quantile edges regression_strata cuts at; None when no target value is present."""
    present = target[~np.isnan(target)]
    if present.size == 0:
        return None
    return np.unique(np.quantile(present, np.arange(1, REGRESSION_STRATA) / REGRESSION_STRATA))


def strata_by_edges(target: np.ndarray, edges: np.ndarray | None) -> np.ndarray:
    """regression_strata of `target` with edges computed beforehand (from every row's target)."""
    if edges is None:
        return np.zeros(len(target), dtype=np.int64)
    strata = np.searchsorted(edges, target, side="left")
    strata[np.isnan(target)] = REGRESSION_STRATA
    return strata


@dataclass(frozen=True)
class SplitCut:
    """Per stratum, the key below which a kept row goes to test and the key below which it goes
    to validation (None: every kept row of the stratum): what assign_splits_by_key computes,
    kept so that each row's split follows from its key alone, chunk by chunk."""

    thresholds: dict[int, tuple[np.uint64 | None, np.uint64 | None]]

    def assign(self, keys: np.ndarray, strata: np.ndarray | None, flagged: np.ndarray) -> np.ndarray:
        """Split index of each row, QUARANTINED for flagged rows; as _assign_rows over the file."""
        assignment = np.full(len(keys), TRAIN, dtype=np.int8)
        kept = ~flagged
        for stratum, (test_below, validation_below) in self.thresholds.items():
            in_stratum = kept if strata is None else kept & (strata == stratum)
            assignment[in_stratum if validation_below is None else in_stratum & (keys < validation_below)] = VALIDATION
            assignment[in_stratum if test_below is None else in_stratum & (keys < test_below)] = TEST
        assignment[flagged] = QUARANTINED
        return assignment


@dataclass(frozen=True)
class KeySummary:
    """What the rows' keys decide after the scan: duplicates, the split cut and its row counts."""

    duplicate_rows: int
    flagged_rows: int
    cut: SplitCut
    split_rows: tuple[int, int, int]


def summarize_keys(
    store: RowKeyStore,
    split_strata_of: Callable[[np.ndarray], np.ndarray | None],
    duplicates_by_stratum: bool,
    split: SplitConfig,
) -> KeySummary:
    """count_duplicate_keys and the cut of assign_splits_by_key over the kept rows, one bucket of
    `store` at a time: a stratum's threshold is found in the one bucket that holds it.
    `split_strata_of` gives the records' strata (None: one stratum); duplicates are counted
    within the same strata when `duplicates_by_stratum`, over all rows otherwise."""
    duplicates = 0
    flagged_rows = 0
    kept_per_bucket: list[np.ndarray] = []
    for _, records in store.iter_buckets():
        keys, flagged = records["key"], records["flagged"]
        strata = split_strata_of(records)
        duplicates += count_duplicate_keys(keys, strata if duplicates_by_stratum else None)
        flagged_rows += int(np.count_nonzero(flagged))
        kept_strata = np.zeros(int(np.count_nonzero(~flagged)), dtype=np.int64) if strata is None else strata[~flagged]
        kept_per_bucket.append(np.bincount(kept_strata) if kept_strata.size else np.zeros(0, dtype=np.int64))
    width = max((len(counts) for counts in kept_per_bucket), default=0)
    # kept[bucket, stratum]: kept rows of a stratum in a bucket.
    kept = np.zeros((store.buckets, width), dtype=np.int64)
    for bucket, counts in enumerate(kept_per_bucket):
        kept[bucket, : len(counts)] = counts
    thresholds: dict[int, tuple[np.uint64 | None, np.uint64 | None]] = {}
    counts = [0, 0, 0]
    for stratum in np.flatnonzero(kept.sum(axis=0)):
        per_bucket = kept[:, stratum]
        rows = int(per_bucket.sum())
        test_rows = int(round(rows * split.test_fraction))
        validation_rows = int(round(rows * split.validation_fraction))
        test_below, test_count = _key_at(store, split_strata_of, int(stratum), per_bucket, test_rows)
        validation_below, below_validation = _key_at(
            store, split_strata_of, int(stratum), per_bucket, test_rows + validation_rows
        )
        thresholds[int(stratum)] = (test_below, validation_below)
        counts[TEST] += test_count
        counts[VALIDATION] += below_validation - test_count
        counts[TRAIN] += rows - below_validation
    return KeySummary(duplicates, flagged_rows, SplitCut(thresholds), (counts[TRAIN], counts[VALIDATION], counts[TEST]))


def _key_at(
    store: RowKeyStore,
    split_strata_of: Callable[[np.ndarray], np.ndarray | None],
    stratum: int,
    per_bucket: np.ndarray,
    rank: int,
) -> tuple[np.uint64 | None, int]:
    """(the stratum's kept key of this rank in key order, how many kept keys are below it);
    (None, all the stratum's kept rows) when the rank is past its last row."""
    cumulative = np.cumsum(per_bucket)
    if rank >= int(cumulative[-1]):
        return None, int(cumulative[-1])
    bucket = int(np.searchsorted(cumulative, rank, side="right"))
    before = int(cumulative[bucket - 1]) if bucket else 0
    records = store.bucket(bucket)
    strata = split_strata_of(records)
    members = ~records["flagged"] if strata is None else ~records["flagged"] & (strata == stratum)
    ordered = np.sort(records["key"][members])
    key = ordered[rank - before]
    return key, before + int(np.searchsorted(ordered, key, side="left"))
