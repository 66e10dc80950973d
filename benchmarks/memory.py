"""Peak memory of validating a CSV several times larger than the validation Lambda's memory.

The file is the cached 1,000,000-row benchmark CSV (see common.py) repeated, under one header,
until it is MEMORY_MULTIPLE times the memory the validation Lambda is configured with
(VALIDATE_MEMORY_MB in infra/constructs/validation.py). Repeating makes every row a duplicate,
so the config allows any duplicate fraction: the run goes through the accepted path (split
assignment) rather than stopping at the duplicate check. Validation runs in a fresh
subprocess (no split files written) and reports its peak resident set size
(resource.getrusage ru_maxrss). The generated file is deleted afterwards.

    python -m benchmarks.memory [--quick] [--memory-mb MB] [--multiple N] [--work-dir DIR]

--quick validates a file 4x a 256 MB budget (about 1 GB) instead of 4x the Lambda's memory.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import FULL_ROWS, dataset_csv, print_table

REPO_ROOT = Path(__file__).resolve().parent.parent
MEMORY_MULTIPLE = 4
QUICK_MEMORY_MB = 256
VALIDATION_CONSTRUCT = REPO_ROOT / "infra" / "constructs" / "validation.py"
COPY_BLOCK_BYTES = 64 * 1024 * 1024

CHILD = """
import json, resource, sys, time
from pathlib import Path
from benchmarks.common import benchmark_config
from functions.validate_data.validation import validate_file
config = benchmark_config(1_000_000)
config.dataset.max_duplicate_fraction = 1.0
config.validation.max_lambda_file_bytes = 1 << 62
started = time.perf_counter()
outcome = validate_file(Path(sys.argv[1]), config)
seconds = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"accepted": outcome.accepted, "rows": outcome.rows, "seconds": seconds, "peak_mb": peak_mb}))
"""


def configured_memory_mb() -> int:
    match = re.search(r"VALIDATE_MEMORY_MB\s*=\s*(\d+)", VALIDATION_CONSTRUCT.read_text())
    if not match:
        raise SystemExit(f"VALIDATE_MEMORY_MB not found in {VALIDATION_CONSTRUCT}")
    return int(match.group(1))


def write_repeated_csv(source: Path, target: Path, target_bytes: int) -> int:
    """Write `source`'s header once and its data rows repeatedly until `target_bytes`; rows written."""
    with source.open("rb") as stream:
        header = stream.readline()
        body = stream.read()
    rows_per_copy = body.count(b"\n")
    copies = 0
    with target.open("wb") as sink:
        sink.write(header)
        written = len(header)
        while written < target_bytes:
            sink.write(body)
            written += len(body)
            copies += 1
    return copies * rows_per_copy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{MEMORY_MULTIPLE}x a {QUICK_MEMORY_MB} MB budget")
    parser.add_argument("--memory-mb", type=int, help="memory budget (default: the validation Lambda's)")
    parser.add_argument("--multiple", type=int, default=MEMORY_MULTIPLE)
    parser.add_argument("--work-dir", help="where to write the large file (needs its size free)")
    args = parser.parse_args(argv)
    memory_mb = args.memory_mb or (QUICK_MEMORY_MB if args.quick else configured_memory_mb())
    target_bytes = args.multiple * memory_mb * 1024 * 1024
    source = dataset_csv(FULL_ROWS)
    folder = Path(tempfile.mkdtemp(prefix="mlops-memory-", dir=args.work_dir))
    try:
        if shutil.disk_usage(folder).free < target_bytes * 1.1:
            raise SystemExit(f"not enough free space in {folder} for a {target_bytes / 2**30:.1f} GiB file; use --work-dir")
        path = folder / "large.csv"
        started = time.perf_counter()
        rows = write_repeated_csv(source, path, target_bytes)
        written_seconds = time.perf_counter() - started
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)], cwd=REPO_ROOT, check=True, capture_output=True, text=True
        )
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        size_mb = path.stat().st_size / 2**20
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    peak, seconds = measured["peak_mb"], measured["seconds"]
    print_table(
        f"Peak memory validating a {size_mb / 1024:.1f} GiB CSV ({rows:,} rows) against a {memory_mb} MB budget",
        ["measure", "value"],
        [
            ["file size (MB)", round(size_mb)],
            ["rows validated", f"{measured['rows']:,} (accepted: {measured['accepted']})"],
            ["validation seconds", seconds],
            ["throughput (MB/s)", round(size_mb / seconds)],
            ["peak RSS (MB)", round(peak)],
            ["budget (MB)", memory_mb],
            ["peak / budget", round(peak / memory_mb, 3)],
            ["file / peak", round(size_mb / peak, 2)],
            ["file generation seconds", written_seconds],
        ],
    )


if __name__ == "__main__":
    main()
