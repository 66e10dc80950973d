"""Reading an uploaded table (CSV, gzip-compressed CSV or Parquet) in bounded chunks.

`open_table` sniffs the file by its bytes (not its name, except that a ".gz" name promises
gzip), decompresses gzip to a sibling file, checks the raw bytes (binary content, UTF-8,
line length) in one streamed pass and reads the header. `iter_chunks` then yields
DataFrames of at most `chunk_rows` rows; it can be called again for a second pass.

Two ways to read a CSV file's rows, both yielding raw (unconverted) strings:
- `iter_arrow_batches`, the fast path: pyarrow's streaming CSV reader, every column read as
  text, in blocks sized for about `chunk_rows` rows. It raises ArrowPathUnavailable (before or
  while yielding) when Arrow cannot read the file exactly as the csv module would (ragged rows,
  unbalanced quotes, a header it reads differently); the caller then starts over with
- `iter_chunks`, the exact path: the standard `csv` module (strict quoting) rather than pandas,
  so that rows with too few fields are caught instead of silently padded with nulls, and the
  error names the lines. It is what diagnoses why a file is unreadable.
One known difference: Arrow reads text after a closing quote ("x"y) as part of the value (xy)
where the strict csv module rejects the row.
Parquet chunks hold the file's own dtypes and always take the exact path. Anything that cannot
be read as a table raises DataUnreadableError with `check` naming why.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from functions.common.config import ValidationConfig
from functions.common.errors import DataUnreadableError

SCAN_BLOCK_BYTES = 8 * 1024 * 1024
SNIFF_BYTES = 64 * 1024
# A text file has almost no control characters; random bytes have about 1 in 8.
MAX_CONTROL_CHARACTER_FRACTION = 0.05
MAX_RAGGED_ROW_EXAMPLES = 5
MIN_ARROW_BLOCK_BYTES = 1024 * 1024
# Arrow reads ahead several blocks; larger blocks barely read faster but multiply peak memory.
MAX_ARROW_BLOCK_BYTES = 4 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
PARQUET_UNCOMPRESSED = "UNCOMPRESSED"
# The compressed codecs a Parquet writer may use, as Parquet metadata names them.
PARQUET_CODECS = ("SNAPPY", "GZIP", "ZSTD", "LZ4", "LZ4_RAW", "BROTLI")
ZIP_MAGIC = b"PK\x03\x04"
# Compressed formats people upload by mistake, each named in the reason.
OTHER_COMPRESSION_MAGICS = (
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip"),
)
DECOMPRESSED_FILE_NAME = "decompressed.csv"
# In UTF-16 text without a byte order mark, one byte of almost every ASCII character is NUL.
MIN_UTF16_NUL_FRACTION = 0.3
EXCEL_SEPARATOR_HINT = "sep="
UTF16_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
SUSPECT_DELIMITERS = (";", "\t", "|")
ALLOWED_CONTROL_BYTES = frozenset(b"\t\n\r\x0c")

TableFormat = Literal["csv", "parquet"]


class FileTooLargeError(DataUnreadableError):
    def __init__(self, message: str) -> None:
        super().__init__("file_too_large", message)


class ArrowPathUnavailable(Exception):
    """The Arrow reader cannot read this file exactly as the csv module would; use iter_chunks."""


class MalformedRowsError(DataUnreadableError):
    """Rows whose field count differs from the header's; `examples` names the lines."""

    def __init__(self, message: str, examples: list[str]) -> None:
        super().__init__("malformed_rows", message)
        self.examples = examples


@dataclass(frozen=True)
class Table:
    path: Path
    format: TableFormat
    columns: list[str]
    compressed: bool
    chunk_rows: int
    max_field_bytes: int
    # The header's fields as written (before stripping), and the mean line length of the
    # file's first bytes (to size Arrow blocks); CSV only.
    raw_header: tuple[str, ...] = ()
    head_line_bytes: int = 0
    # At least the number of data rows (CSV: lines in the file; Parquet: rows).
    max_rows: int = 0

    def iter_arrow_batches(self) -> Iterator:
        """pyarrow RecordBatches of raw strings, one column per header field (CSV only)."""
        if self.format != "csv":
            raise ArrowPathUnavailable("only CSV files are read with Arrow")
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        block_bytes = min(max(self.chunk_rows * max(self.head_line_bytes, 1), MIN_ARROW_BLOCK_BYTES), MAX_ARROW_BLOCK_BYTES)
        try:
            reader = pa_csv.open_csv(
                self.path,
                read_options=pa_csv.ReadOptions(block_size=block_bytes),
                parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(column_types={name: pa.string() for name in self.raw_header}),
            )
            schema = reader.schema
            if [name.strip() for name in schema.names] != self.columns or any(
                field.type != pa.string() for field in schema
            ):
                raise ArrowPathUnavailable("Arrow reads the header differently")
            for batch in reader:
                if batch.num_rows:
                    yield batch
        except (pa.ArrowException, OSError, ValueError) as error:
            raise ArrowPathUnavailable(str(error)) from error

    def iter_chunks(self) -> Iterator[pd.DataFrame]:
        if self.format == "parquet":
            yield from _iter_parquet(self.path, self.chunk_rows)
        else:
            yield from _iter_csv(self.path, self.columns, self.chunk_rows, self.max_field_bytes)


def open_table(
    path: Path, config: ValidationConfig, file_name: str = "", max_decompressed_bytes: int | None = None
) -> Table:
    """Check the file's bytes and read its header; gzip is decompressed next to `path`, up to
    `max_decompressed_bytes` (default: the Lambda route's `max_lambda_file_bytes`)."""
    size_bytes = path.stat().st_size
    if size_bytes == 0:
        raise DataUnreadableError("empty_file", "the file is empty (0 bytes)")
    head = _read_head(path)
    compressed = False
    if head.startswith(GZIP_MAGIC) or file_name.lower().endswith(".gz"):
        if not head.startswith(GZIP_MAGIC):
            raise DataUnreadableError("unreadable_compression", "the file name ends in .gz but the file is not gzip data")
        limit_bytes = config.max_lambda_file_bytes if max_decompressed_bytes is None else max_decompressed_bytes
        path = _gunzip(path, limit_bytes)
        compressed = True
        head = _read_head(path)
        if not head:
            raise DataUnreadableError("empty_file", "the gzip file decompresses to nothing")
        if head.startswith(GZIP_MAGIC):
            raise DataUnreadableError(
                "unreadable_compression", "the file is gzip-compressed twice; compress the CSV once"
            )
    for magic, compression in OTHER_COMPRESSION_MAGICS:
        if head.startswith(magic):
            raise DataUnreadableError(
                "unreadable_compression", f"the file is {compression}-compressed; upload CSV, gzip CSV or Parquet"
            )
    if head.startswith(ZIP_MAGIC):
        raise DataUnreadableError(
            "unreadable_compression", "the file is a zip archive (or an Excel workbook); upload CSV, gzip CSV or Parquet"
        )
    if head.startswith(PARQUET_MAGIC) or file_name.lower().endswith(".parquet"):
        return _open_parquet(path, config, compressed)
    _raise_if_markup(head)
    lines = _scan_text(path, config.max_line_bytes)
    raw_header = _read_csv_header(path, config.max_line_bytes)
    columns = [name.strip() for name in raw_header]
    head_line_bytes = len(head) // max(head.count(b"\n"), 1)
    return Table(
        path, "csv", columns, compressed, config.chunk_rows, config.max_line_bytes, tuple(raw_header), head_line_bytes, lines
    )


def _raise_if_markup(head: bytes) -> None:
    """JSON and HTML saved under a .csv name (an API response, an error page) say so."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:16].lower()
    if start[:1] in (b"{", b"["):
        raise DataUnreadableError("json_content", "the file holds JSON, not CSV; upload CSV, gzip CSV or Parquet")
    if start.startswith((b"<!doctype", b"<html", b"<?xml")):
        raise DataUnreadableError(
            "markup_content", "the file is an HTML or XML document (an error page saved instead of the data?), not CSV"
        )


def _read_head(path: Path) -> bytes:
    with path.open("rb") as stream:
        return stream.read(SNIFF_BYTES)


def _gunzip(path: Path, max_bytes: int) -> Path:
    """Decompress into a fixed name beside `path`: a sibling named after the upload could exceed
    the file system's name limit. A write error is the disk's, not the gzip data's."""
    target = path.with_name(DECOMPRESSED_FILE_NAME if path.name != DECOMPRESSED_FILE_NAME else "_" + DECOMPRESSED_FILE_NAME)
    try:
        sink = target.open("wb")
    except OSError as error:
        raise DataUnreadableError("work_space", f"the decompressed copy cannot be written ({error.strerror})") from error
    try:
        with gzip.open(path, "rb") as source, sink:
            written = 0
            while block := source.read(SCAN_BLOCK_BYTES):
                written += len(block)
                if written > max_bytes:
                    raise FileTooLargeError(
                        f"the gzip file decompresses to more than {max_bytes} bytes, "
                        "more than this validation route accepts"
                    )
                try:
                    sink.write(block)
                except OSError as error:
                    raise DataUnreadableError(
                        "work_space", f"the decompressed copy cannot be written ({error.strerror})"
                    ) from error
    except (OSError, EOFError, zlib.error) as error:
        raise DataUnreadableError(
            "unreadable_compression", f"the gzip data is damaged or truncated ({type(error).__name__})"
        ) from error
    return target


def _scan_text(path: Path, max_line_bytes: int) -> int:
    """One streamed pass over the bytes: binary content, UTF-8 validity, longest line; the line count."""
    with path.open("rb") as stream:
        first = stream.read(SNIFF_BYTES)
        if first.startswith(UTF16_BOMS) and not first.startswith(codecs.BOM_UTF8):
            raise DataUnreadableError("encoding", "the file is UTF-16 or UTF-32 encoded; save it as UTF-8")
        _check_not_binary(first)
        stream.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset_bytes = 0
        line_number = 1
        current_line_bytes = 0
        saw_text = False
        while block := stream.read(SCAN_BLOCK_BYTES):
            if b"\x00" in block:
                raise DataUnreadableError("binary_content", "the file contains NUL bytes; it is not a text table")
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                bad_line = line_number + block[: error.start].count(b"\n")
                raise DataUnreadableError(
                    "encoding",
                    f"the file is not valid UTF-8 (byte 0x{block[error.start]:02x} on line {bad_line}); save it as UTF-8",
                ) from error
            array = np.frombuffer(block, dtype=np.uint8)
            newlines = _line_ends(array)
            if newlines.size:
                lengths = np.diff(newlines, prepend=-1)
                lengths[0] += current_line_bytes
                longest = int(lengths.max())
                current_line_bytes = len(block) - int(newlines[-1]) - 1
            else:
                current_line_bytes += len(block)
                longest = current_line_bytes
            if max(longest, current_line_bytes) > max_line_bytes:
                raise DataUnreadableError(
                    "line_too_long",
                    f"a line near line {line_number + int(newlines.size)} is longer than {max_line_bytes} bytes",
                )
            saw_text = saw_text or bool(block.strip(b" \t\r\n\xef\xbb\xbf"))
            line_number += int(newlines.size)
            offset_bytes += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:
            raise DataUnreadableError("encoding", "the file ends in the middle of a UTF-8 character") from error
    if not saw_text:
        raise DataUnreadableError("empty_file", "the file holds only whitespace")
    return line_number


def _line_ends(array: np.ndarray) -> np.ndarray:
    """Positions of the bytes that end a line: LF, and CR not followed by LF (old Mac files).

    A CR at the end of a block counts as a line end even when the next block starts with LF;
    that only overcounts lines by one.
    """
    line_feed = array == 10
    carriage_return = array == 13
    if carriage_return.any():
        carriage_return[:-1] &= ~line_feed[1:]
        return np.flatnonzero(line_feed | carriage_return)
    return np.flatnonzero(line_feed)


def _check_not_binary(head: bytes) -> None:
    if b"\x00" in head:
        _raise_if_utf16_without_bom(head)
        raise DataUnreadableError("binary_content", "the file contains NUL bytes; it is not a text table")
    control = sum(1 for byte in head if byte < 32 and byte not in ALLOWED_CONTROL_BYTES)
    if head and control / len(head) > MAX_CONTROL_CHARACTER_FRACTION:
        raise DataUnreadableError("binary_content", "the file holds binary data, not a text table")


def _raise_if_utf16_without_bom(head: bytes) -> None:
    even, odd = head[0::2], head[1::2]
    for name, zeros, text in (("UTF-16 big-endian", even, odd), ("UTF-16 little-endian", odd, even)):
        if len(zeros) and zeros.count(0) / len(zeros) >= MIN_UTF16_NUL_FRACTION and text.count(0) < zeros.count(0) / 10:
            raise DataUnreadableError(
                "encoding", f"the file looks {name} encoded without a byte order mark; save it as UTF-8"
            )


def _csv_reader(stream: io.TextIOBase, max_field_bytes: int) -> Iterator[list[str]]:
    csv.field_size_limit(max(max_field_bytes, 1024))
    return csv.reader(stream, strict=True)


def _open_text(path: Path) -> io.TextIOWrapper:
    return path.open("r", encoding="utf-8-sig", newline="")


def _is_blank(row: list[str]) -> bool:
    """An empty line, or one holding only whitespace (a file's last line often does)."""
    return not row or (len(row) == 1 and not row[0].strip())


def _read_csv_header(path: Path, max_field_bytes: int) -> list[str]:
    """The header's fields as written; the names are checked here."""
    with _open_text(path) as stream:
        reader = _csv_reader(stream, max_field_bytes)
        try:
            header = next((row for row in reader if not _is_blank(row)), None)
            if header is None:
                raise DataUnreadableError("empty_file", "the file has no header row")
            header_line = reader.line_num
            first_row = next((row for row in reader if not _is_blank(row)), None)
        except csv.Error as error:
            raise DataUnreadableError("malformed_rows", f"the header cannot be parsed as CSV ({error})") from error
    columns = [name.strip() for name in header]
    if columns and columns[0].lower().startswith(EXCEL_SEPARATOR_HINT) and len(columns) <= 2:
        raise DataUnreadableError(
            "malformed_header",
            f"line {header_line} is Excel's {','.join(header)!r} separator hint, not a header; "
            "remove that line so the header is the first line",
        )
    if len(columns) == 1 and any(delimiter in columns[0] for delimiter in SUSPECT_DELIMITERS):
        found = next(delimiter for delimiter in SUSPECT_DELIMITERS if delimiter in columns[0])
        raise DataUnreadableError(
            "delimiter", f"the header is one column containing {found!r}; the file must be comma-separated"
        )
    if first_row is not None and len(columns) < len(first_row) and (len(columns) == 1 or columns[0].startswith("#")):
        raise DataUnreadableError(
            "malformed_header",
            f"line {header_line} ({shown_name(header[0])[:60]}) has {len(header)} field(s) but the next line has "
            f"{len(first_row)}: a title or comment line above the header? The header must be the first line",
        )
    _check_column_names(columns)
    padded = [(position, name) for position, name in enumerate(header, start=1) if name != name.strip()]
    if padded:
        position, name = padded[0]
        raise DataUnreadableError(
            "malformed_header",
            f"{len(padded)} column name(s) have spaces around them (column {position}: {shown_name(name)}); "
            "remove the spaces after the commas of the header",
        )
    if first_row is None:
        raise DataUnreadableError("header_only", "the file has a header row but no data rows")
    return header


def shown_name(name: str) -> str:
    """A column name quoted, with invisible and non-printable characters escaped (\\u200b),
    so that two names that look alike on screen read differently."""
    escaped = "".join(
        character if character.isprintable() and unicodedata.category(character) != "Cf" else _escape(character)
        for character in name
    )
    return f"'{escaped}'"


def _escape(character: str) -> str:
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _check_column_names(columns: list[str]) -> None:
    unnamed = [position for position, name in enumerate(columns, start=1) if not name]
    if unnamed:
        position = unnamed[0]
        if position == len(columns):
            hint = "a comma at the end of the header line (a trailing delimiter)?"
        elif position == 1:
            hint = "an index column (pandas writes one unless to_csv is given index=False)?"
        else:
            hint = "two commas in a row in the header?"
        raise DataUnreadableError(
            "malformed_header",
            f"the header has {len(unnamed)} empty column name(s), the first in column {position} of "
            f"{len(columns)}: {hint}",
        )
    seen: set[str] = set()
    repeated = [name for name in columns if name in seen or seen.add(name)]
    if repeated:
        raise DataUnreadableError(
            "duplicate_columns",
            f"the header repeats column names: {', '.join(shown_name(name) for name in sorted(set(repeated)))}",
        )


def _iter_csv(path: Path, columns: list[str], chunk_rows: int, max_field_bytes: int) -> Iterator[pd.DataFrame]:
    width = len(columns)
    with _open_text(path) as stream:
        reader = _csv_reader(stream, max_field_bytes)
        rows: list[list[str]] = []
        ragged: list[str] = []
        ragged_count = 0
        header_seen = False
        try:
            for row in reader:
                if _is_blank(row):
                    continue
                if not header_seen:
                    header_seen = True
                    continue
                if len(row) != width:
                    ragged_count += 1
                    if len(ragged) < MAX_RAGGED_ROW_EXAMPLES:
                        ragged.append(f"line {reader.line_num}: {len(row)} fields")
                    continue
                rows.append(row)
                if len(rows) >= chunk_rows:
                    _raise_if_ragged(ragged_count, ragged, width)
                    yield pd.DataFrame(rows, columns=columns, dtype=object)
                    rows = []
        except csv.Error as error:
            raise DataUnreadableError(
                "malformed_rows",
                f"the CSV cannot be parsed near line {reader.line_num} (unbalanced quotes or an oversized field)",
            ) from error
        except UnicodeDecodeError as error:
            raise DataUnreadableError("encoding", "the file is not valid UTF-8") from error
        _raise_if_ragged(ragged_count, ragged, width)
        if rows:
            yield pd.DataFrame(rows, columns=columns, dtype=object)


def _raise_if_ragged(count: int, examples: list[str], width: int) -> None:
    if count:
        raise MalformedRowsError(f"{count} row(s) do not have the header's {width} fields", examples)


def _open_parquet(path: Path, config: ValidationConfig, compressed: bool) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.ParquetFile(path).metadata
        columns = [str(name) for name in metadata.schema.to_arrow_schema().names]
    except (pa.ArrowException, OSError, ValueError) as error:
        raise DataUnreadableError("parquet_unreadable", f"the Parquet file cannot be read ({type(error).__name__})") from error
    _check_column_names([name.strip() for name in columns])
    _check_parquet_codecs(metadata)
    if metadata.num_rows == 0:
        raise DataUnreadableError("header_only", "the Parquet file has columns but no rows")
    return Table(path, "parquet", columns, compressed, config.chunk_rows, config.max_line_bytes, max_rows=metadata.num_rows)


def parquet_codecs_unreadable_here(path: Path) -> list[str]:
    """The compression codecs of the Parquet file at `path` that this process's pyarrow is built
    without (the AWS SDK for pandas layer's has gzip and snappy only: infra/runtime_manifest.toml);
    empty for any other file, and for a Parquet file whose footer cannot be read (`open_table`
    says what is wrong with it)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not _read_head(path).startswith(PARQUET_MAGIC):
        return []
    try:
        metadata = pq.ParquetFile(path).metadata
    except (pa.ArrowException, OSError, ValueError):
        return []
    return _unreadable_codecs(metadata)


def handed_to_job_reason(codecs: list[str]) -> str:
    """Why a file the function cannot read is validated by the validation job instead."""
    return f"the Parquet file is compressed with {', '.join(codecs)}, which this function's pyarrow cannot read: validated by a job"


def _unreadable_codecs(metadata) -> list[str]:
    import pyarrow as pa

    used = {
        metadata.row_group(group).column(column).compression
        for group in range(metadata.num_row_groups)
        for column in range(metadata.num_columns)
    }
    return sorted(codec for codec in used if codec != PARQUET_UNCOMPRESSED and not _codec_available(pa, codec))


def _check_parquet_codecs(metadata) -> None:
    """A codec this process's pyarrow is built without is named before any row is read."""
    import pyarrow as pa

    missing = _unreadable_codecs(metadata)
    if missing:
        readable = sorted(codec for codec in PARQUET_CODECS if _codec_available(pa, codec))
        raise DataUnreadableError(
            "parquet_codec",
            f"the Parquet file is compressed with {', '.join(missing)}, which this validation route cannot read "
            f"(it reads {', '.join(readable) or 'no'} compression or none); write the file with "
            "compression=\"snappy\" (pandas to_parquet, polars write_parquet, pyarrow write_table)",
        )


def _codec_available(pa, parquet_codec: str) -> bool:
    try:
        return bool(pa.Codec.is_available(parquet_codec.lower()))
    except (ValueError, pa.ArrowException):
        # A codec Arrow does not know at all (LZO).
        return False


def _iter_parquet(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet_file = pq.ParquetFile(path)
        for batch in parquet_file.iter_batches(batch_size=chunk_rows):
            frame = batch.to_pandas()
            frame.columns = [str(name).strip() for name in frame.columns]
            yield frame
    except (pa.ArrowException, OSError, ValueError) as error:
        raise DataUnreadableError("parquet_unreadable", f"the Parquet data cannot be read ({type(error).__name__})") from error

