"""Deterministic train/validation/test split.

Each row gets a key: its content hash mixed with config.split.seed (splitmix64). Within each
stratum (the class for classification, a target quantile band for regression) rows are ordered
by key; the first round(n * test_fraction) go to test, the next round(n * validation_fraction)
to validation, the rest to train. So the split depends only on the rows' content and the seed:
the same bytes always give the same split, and reordering the rows of a file puts every row in
the same split as before. Stratification keeps each class's share equal across splits.
"""

from __future__ import annotations

import numpy as np

from functions.common.config import SplitConfig

SPLIT_NAMES = ("train", "validation", "test")
TRAIN, VALIDATION, TEST = 0, 1, 2
REGRESSION_STRATA = 5
_UINT64_MASK = (1 << 64) - 1


def mix_hashes(hashes: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 finalizer of hash ^ seed: a well-spread uint64 key per row."""
    with np.errstate(over="ignore"):
        x = hashes.astype(np.uint64) ^ np.uint64(seed & _UINT64_MASK)
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


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
    keys = mix_hashes(row_hashes, split.seed)
    assignment = np.full(len(keys), TRAIN, dtype=np.int8)
    if strata is None:
        strata = np.zeros(len(keys), dtype=np.int64)
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        ordered = members[np.argsort(keys[members], kind="stable")]
        test_rows = int(round(len(ordered) * split.test_fraction))
        validation_rows = int(round(len(ordered) * split.validation_fraction))
        assignment[ordered[:test_rows]] = TEST
        assignment[ordered[test_rows : test_rows + validation_rows]] = VALIDATION
    return assignment
