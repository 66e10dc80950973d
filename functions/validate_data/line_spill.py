"""The curated lines of an upload, formatted during the scan and kept on disk until the split
is cut, so that writing the split files does not read and coerce the upload a second time.

The scan formats each chunk's rows as curated CSV lines (csv_lines.py) and appends, for the
rows not held back, their records (split key and stratum source, as row_keys.py stores them)
and lines to files beside the upload; the rows held back go, as read, to the quarantine file
right away. Once the split is cut, `iter_chunks` reads the chunks back in file order, one at a
time, so memory stays bounded by the chunk size.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import numpy as np

from functions.common.errors import DataUnreadableError

RECORDS_FILE = "records.bin"
OFFSETS_FILE = "offsets.bin"
LINES_FILE = "lines.bin"
QUARANTINE_FILE = "quarantined.csv"


class LineSpill:
    def __init__(self, directory: Path, record_dtype: np.dtype, quarantine_header: list[str]) -> None:
        self.record_dtype = record_dtype
        self._quarantine_header = quarantine_header
        # (rows, line bytes) of each chunk, in file order.
        self._chunks: list[tuple[int, int]] = []
        self._quarantine: TextIO | None = None
        self._quarantine_writer: Any = None
        try:
            self.folder = Path(tempfile.mkdtemp(prefix="curated-lines-", dir=directory))
            self._streams: dict[str, BinaryIO] = {
                name: (self.folder / name).open("wb") for name in (RECORDS_FILE, OFFSETS_FILE, LINES_FILE)
            }
        except OSError as error:
            raise DataUnreadableError("work_space", f"the curated lines cannot be written ({error.strerror})") from error

    @property
    def quarantine_path(self) -> Path | None:
        return self.folder / QUARANTINE_FILE if self._quarantine is not None else None

    def add(self, records: np.ndarray, lines: Any) -> None:
        """Append a chunk's kept rows: their records and their lines (a pyarrow string array)."""
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
        start, end = int(offsets[0]), int(offsets[-1])
        try:
            self._streams[RECORDS_FILE].write(records.tobytes())
            self._streams[OFFSETS_FILE].write((offsets - np.int32(start)).tobytes())
            self._streams[LINES_FILE].write(memoryview(lines.buffers()[2])[start:end])
        except OSError as error:
            raise DataUnreadableError("work_space", f"the curated lines cannot be written ({error.strerror})") from error
        self._chunks.append((len(records), end - start))

    def add_quarantined(self, rows: list[list[Any]]) -> None:
        """Rows held back, as read with their reasons; the file and its header start with the first."""
        if self._quarantine is None:
            self._quarantine = (self.folder / QUARANTINE_FILE).open("w", encoding="utf-8", newline="")
            self._quarantine_writer = csv.writer(self._quarantine, lineterminator="\n")
            self._quarantine_writer.writerow(self._quarantine_header)
        self._quarantine_writer.writerows(rows)

    def finish(self) -> None:
        for stream in self._streams.values():
            stream.close()
        if self._quarantine is not None:
            self._quarantine.close()

    def iter_chunks(self) -> Iterator[tuple[np.ndarray, Any]]:
        """(records, lines as a pyarrow string array) of each chunk, in file order."""
        import pyarrow as pa

        self.finish()
        with (
            (self.folder / RECORDS_FILE).open("rb") as records_file,
            (self.folder / OFFSETS_FILE).open("rb") as offsets_file,
            (self.folder / LINES_FILE).open("rb") as lines_file,
        ):
            for rows, line_bytes in self._chunks:
                records = np.frombuffer(records_file.read(rows * self.record_dtype.itemsize), dtype=self.record_dtype)
                offsets = pa.py_buffer(offsets_file.read((rows + 1) * np.dtype(np.int32).itemsize))
                data = pa.py_buffer(lines_file.read(line_bytes))
                yield records, pa.StringArray.from_buffers(rows, offsets, data)

    def close(self) -> None:
        self.finish()
        shutil.rmtree(self.folder, ignore_errors=True)
