"""Each row's split key, stratum and quarantine flag, kept off the heap.

The scan produces, per row, the split key (its content hash mixed with the split seed), the
value its stratum comes from (a class code, or the regression target) and whether a tolerated
check holds it back. Counting duplicates and cutting the split need them all, but only grouped
by key, never in file order: equal keys are duplicates, and a split threshold is an order
statistic of the keys. So the records are partitioned by the top bits of the key (keys are
splitmix64 outputs, so buckets fill evenly) into bucket files beside the upload, and the work
after the scan loads one bucket at a time: memory is bounded by the bucket size, not the row
count. A table small enough for a single bucket keeps it in memory. The second pass, which
writes the splits, recomputes each row's key from its values instead of reading it back.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from functions.common.errors import DataUnreadableError

# Average rows per bucket; a bucket's records, a sorted copy of its keys and a few masks are
# what is held at once after the scan (about 40 bytes a row, so about 80 MB at most).
KEY_BUCKET_ROWS = 1 << 21
MAX_BUCKET_BITS = 12
KEY_BITS = 64


def bucket_bits(max_rows: int, bucket_rows: int | None = None) -> int:
    """Bits of the key that name a bucket: enough buckets for `max_rows` at `bucket_rows` each."""
    bucket_rows = KEY_BUCKET_ROWS if bucket_rows is None else bucket_rows
    buckets = -(-max(max_rows, 1) // bucket_rows)
    return min(int(buckets - 1).bit_length(), MAX_BUCKET_BITS)


class RowKeyStore:
    """Records (a numpy structured dtype with a uint64 "key" field) partitioned by key."""

    def __init__(self, dtype: np.dtype, max_rows: int, directory: Path) -> None:
        self.dtype = np.dtype(dtype)
        self.bits = bucket_bits(max_rows)
        self.buckets = 1 << self.bits
        self.rows = 0
        self._in_memory: list[np.ndarray] = []
        self._folder: Path | None = None
        self._files: list[BinaryIO] = []
        if self.buckets > 1:
            try:
                self._folder = Path(tempfile.mkdtemp(prefix="row-keys-", dir=directory))
                self._files = [(self._folder / f"{bucket}.bin").open("wb") for bucket in range(self.buckets)]
            except OSError as error:
                self.close()
                raise DataUnreadableError("work_space", f"the row keys cannot be written ({error.strerror})") from error

    def bucket_of(self, keys: np.ndarray) -> np.ndarray:
        if self.bits == 0:
            return np.zeros(len(keys), dtype=np.int64)
        return (keys >> np.uint64(KEY_BITS - self.bits)).astype(np.int64)

    def add(self, records: np.ndarray) -> None:
        self.rows += len(records)
        if self.buckets == 1:
            self._in_memory.append(records)
            return
        buckets = self.bucket_of(records["key"])
        order = np.argsort(buckets, kind="stable")
        ordered = records[order]
        bounds = np.searchsorted(buckets[order], np.arange(self.buckets + 1))
        try:
            for bucket in np.flatnonzero(np.diff(bounds)):
                self._files[bucket].write(ordered[bounds[bucket] : bounds[bucket + 1]].tobytes())
        except OSError as error:
            raise DataUnreadableError("work_space", f"the row keys cannot be written ({error.strerror})") from error

    def bucket(self, index: int) -> np.ndarray:
        """The records of one bucket (in the order they were added)."""
        if self.buckets == 1:
            if len(self._in_memory) != 1:
                self._in_memory = [np.concatenate(self._in_memory) if self._in_memory else np.zeros(0, self.dtype)]
            return self._in_memory[0]
        stream = self._files[index]
        if not stream.closed:
            stream.flush()
        return np.fromfile(self._folder / f"{index}.bin", dtype=self.dtype)

    def iter_buckets(self) -> Iterator[tuple[int, np.ndarray]]:
        for index in range(self.buckets):
            yield index, self.bucket(index)

    def close(self) -> None:
        for stream in self._files:
            stream.close()
        self._files = []
        self._in_memory = []
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
