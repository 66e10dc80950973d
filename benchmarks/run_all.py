"""Run every benchmark in turn and print their tables.

    python -m benchmarks.run_all [--quick]

--quick uses 100,000 rows for the speed benchmarks, fewer repeats, and a ~1 GB file for the
memory benchmark (4x a 256 MB budget) instead of 4x the validation Lambda's memory.
"""

from __future__ import annotations

import argparse

from benchmarks import batch_join, cold_start, drift_speed, memory, pipeline_overhead, validation_speed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    quick = ["--quick"] if args.quick else []
    repeats = ["--repeats", "1" if args.quick else "3"]
    validation_speed.main(quick + repeats)
    drift_speed.main(quick + repeats)
    cold_start.main(quick)
    pipeline_overhead.main(quick)
    memory.main(quick)
    batch_join.main(["--rows", "100000"] if args.quick else [])


if __name__ == "__main__":
    main()
