"""Deterministic train/validation/test split.

Each row gets a key: its content hash mixed with config.split.seed (splitmix64). Within each
stratum (the class for classification, a target quantile band for regression) rows are ordered
by key; the first round(n * test_fraction) go to test, the next round(n * validation_fraction)
to validation, the rest to train. So the split depends only on the rows' content and the seed:
the same bytes always give the same split, and reordering the rows of a file puts every row in
the same split as before. Stratification keeps each class's share equal across splits.

Splits are cut at key thresholds, so identical rows (equal keys) always share a split and a
duplicated row never sits in both train and test; when copies straddle a cut, the split
before it gets a few rows fewer. Memory beyond the keys is one copy of the largest stratum's.
"""

from __future__ import annotations

import numpy as np

from functions.common.config import SplitConfig

SPLIT_NAMES = ("train", "validation", "test")
TRAIN, VALIDATION, TEST = 0, 1, 2
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
    present = target[~np.isnan(target)]
    if present.size == 0:
        return np.zeros(len(target), dtype=np.int64)
    edges = np.unique(np.quantile(present, np.arange(1, REGRESSION_STRATA) / REGRESSION_STRATA))
    strata = np.searchsorted(edges, target, side="left")
    strata[np.isnan(target)] = REGRESSION_STRATA
    return strata


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
