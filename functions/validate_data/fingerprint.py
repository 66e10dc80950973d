"""The rows fingerprint: one digest of an accepted upload's rows that ignores their order and
how the file spelled them (CSV or Parquet, gzip or not, BOM, line endings, quoting).

The byte hash (the dataset version) tells the same file apart; this tells the same rows apart,
so a re-upload of a trained dataset reordered, recompressed or converted does not train and
redeploy an identical model. It is computed on the curated splits, which hold every accepted
row once, each value parsed by the schema's type: numbers as float64 (so 5, 5.0 and 5.00 are
one value), everything else as text. Each row is hashed with pandas' stable row hash over the
schema's columns in schema order; the sorted row hashes are then hashed with SHA-256, so the
digest depends on the multiset of rows and nothing else.

Runs in the Lambda function and in the validation job (numpy and pandas only).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

NUMERIC_COLUMN_TYPES = frozenset({"integer", "float"})
FINGERPRINT_CHUNK_ROWS = 200_000
FINGERPRINT_FORMAT = "rows-v1"


def rows_fingerprint(split_files: Iterable[Path], columns: list[tuple[str, str]]) -> str:
    """`columns` is the schema's (name, type) in schema order, the target among them."""
    names = [name for name, _ in columns]
    numeric = {name for name, column_type in columns if column_type in NUMERIC_COLUMN_TYPES}
    row_hashes: list[np.ndarray] = []
    for path in split_files:
        reader = pd.read_csv(
            path,
            usecols=names,
            dtype={name: "float64" if name in numeric else str for name in names},
            keep_default_na=True,
            chunksize=FINGERPRINT_CHUNK_ROWS,
        )
        for chunk in reader:
            frame = chunk[names]
            row_hashes.append(pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64))
    combined = np.sort(np.concatenate(row_hashes)) if row_hashes else np.empty(0, dtype=np.uint64)
    digest = hashlib.sha256(FINGERPRINT_FORMAT.encode("ascii"))
    digest.update(combined.astype("<u8").tobytes())
    return digest.hexdigest()
