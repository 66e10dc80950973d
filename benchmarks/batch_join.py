"""How fast the validate function joins a transform job's answers to the scored rows.

"Conclude batch" streams rows.csv and the job's output through `PredictionJoin` into a managed
upload, holding one line of each at a time, so its memory does not grow with the file; its time
does, and a Lambda invocation stops at 15 minutes. This times the join alone (no S3) over a
classification batch with an id column and two class probabilities, answered in mini-batches of
MINI_BATCH_ROWS rows, and prints rows per second and the rows a 15-minute invocation would join.

    python -m benchmarks.batch_join [--rows N] [--repeats N]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time

from functions.validate_data.prediction_join import LineStream, PredictionJoin

MINI_BATCH_ROWS = 5_000
LAMBDA_TIMEOUT_SECONDS = 15 * 60
READ_SIZE_BYTES = 8 * 1024 * 1024  # boto3's default multipart part size


def _rows_csv(rows: int) -> str:
    return "row,patient_id\n" + "".join(f"{number},p{number:09d}\n" for number in range(1, rows + 1))


def _answers(rows: int) -> str:
    lines = []
    for start in range(0, rows, MINI_BATCH_ROWS):
        size = min(MINI_BATCH_ROWS, rows - start)
        predictions = [str((start + i) % 2) for i in range(size)]
        probabilities = [[0.25, 0.75] if p == "1" else [0.875, 0.125] for p in predictions]
        lines.append(json.dumps({"predictions": predictions, "probabilities": probabilities, "classes": ["0", "1"]}))
    return "\n".join(lines) + "\n"


def join_seconds(rows_text: str, answers_text: str) -> tuple[float, int]:
    join = PredictionJoin(model_version=1, regression=False)
    stream = LineStream(join.lines(csv.reader(io.StringIO(rows_text, newline="")), io.StringIO(answers_text)))
    started = time.perf_counter()
    written = 0
    while chunk := stream.read(READ_SIZE_BYTES):
        written += len(chunk)
    return time.perf_counter() - started, written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args(argv)
    rows_text, answers_text = _rows_csv(arguments.rows), _answers(arguments.rows)
    timings = sorted(join_seconds(rows_text, answers_text) for _ in range(arguments.repeats))
    seconds, written = timings[len(timings) // 2]
    rate = arguments.rows / seconds
    print(f"| rows | median seconds | rows per second | predictions MB | rows joined in {LAMBDA_TIMEOUT_SECONDS // 60} min |")
    print("|---|---|---|---|---|")
    print(
        f"| {arguments.rows:,} | {seconds:.2f} | {rate:,.0f} | {written / 1e6:.0f} | "
        f"{rate * LAMBDA_TIMEOUT_SECONDS:,.0f} |"
    )


if __name__ == "__main__":
    main()
