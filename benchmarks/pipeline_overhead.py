"""The local pipeline's own overhead on a 10,000-row CSV.

Runs one upload through `mlops.local` in-process, as `mlops local run` does: a LocalCloud
(synthesized stack deployed into moto) and `run_upload`, which validates, trains, evaluates,
registers and deploys. Overhead = wall time of the upload minus the training job's own time
as the local training runner records it (`runs[job].seconds`: channel download, the
training script's process and fit, artifact upload). The cloud's start-up (synthesis and
deployment into moto) is reported on its own line.

    python -m benchmarks.pipeline_overhead [--rows N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import breast_cancer_frame, print_table

PIPELINE_ROWS = 10_000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=PIPELINE_ROWS)
    parser.add_argument("--quick", action="store_true", help="same as the default (one run of 10,000 rows)")
    args = parser.parse_args(argv)

    from functions.validate_data.schema_inference import infer_config
    from mlops.local.cloud import LocalCloud
    from mlops.local.runner import run_upload

    with tempfile.TemporaryDirectory(prefix="mlops-overhead-") as folder:
        frame = breast_cancer_frame(args.rows)
        data_file = Path(folder) / "breast_cancer_overhead.csv"
        frame.to_csv(data_file, index=False)
        config = infer_config(frame, "target", project="mlops")
        config.dataset.max_duplicate_fraction = 1.0
        config_file = Path(folder) / "pipeline.json"
        config_file.write_text(config.to_json(), encoding="utf-8")
        started = time.perf_counter()
        with LocalCloud(config_file) as cloud:
            startup = time.perf_counter() - started
            started = time.perf_counter()
            result = run_upload(cloud, data_file)
            wall = time.perf_counter() - started
            training = sum(run.seconds for run in cloud.standins.training.runs.values())
    if result.outcome != "deployed":
        print(f"The upload did not deploy ({result.outcome}): {result.reason}; the figures below are not an overhead.")
    print_table(
        f"Local pipeline, one upload of {args.rows:,} rows (outcome: {result.outcome})",
        ["part", "seconds", "share of upload"],
        [
            ["local cloud start (synth + deploy into moto)", startup, "-"],
            ["upload wall time", wall, 1.0],
            ["training job (runs[job].seconds)", training, training / wall],
            ["pipeline overhead (wall - training)", wall - training, (wall - training) / wall],
        ],
    )


if __name__ == "__main__":
    main()
