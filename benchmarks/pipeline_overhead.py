"""The local pipeline's own overhead on a 10,000-row CSV, and the wall time of the command.

Runs one upload through `mlops.local` in-process, as `mlops local run` does: a LocalCloud
(synthesized stack deployed into moto) and `run_upload`, which validates, trains, evaluates,
registers and deploys. Overhead = wall time of the upload minus the training job's own time
as the local training runner records it (`runs[job].seconds`: channel download, the
training script's process and fit, artifact upload). The cloud's start-up (synthesis and
deployment into moto) is reported on its own line.

Then it runs the command a person types, `mlops local run FILE --config CONFIG --json`, as a
new process twice: first with an empty synthesis cache (`cdk synth` included), then with the
cache the first run filled.

    python -m benchmarks.pipeline_overhead [--rows N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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

    from functions.common.outcome import Outcome
    from mlops.local.cloud import LocalCloud
    from mlops.local.runner import run_upload
    from mlops.schema_inference import infer_config

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
        command_cold, outcome_cold = _time_command(data_file, config_file, Path(folder) / "synth-cache")
        command_warm, outcome_warm = _time_command(data_file, config_file, Path(folder) / "synth-cache")
    if result.outcome is not Outcome.DEPLOYED:
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
    print_table(
        f"`mlops local run` of {args.rows:,} rows as a new process, start to exit",
        ["synthesis cache", "seconds", "outcome"],
        [
            ["empty (cdk synth included)", command_cold, outcome_cold],
            ["filled by the run above", command_warm, outcome_warm],
        ],
    )


def _time_command(data_file: Path, config_file: Path, cache_dir: Path) -> tuple[float, str]:
    environment = {**os.environ, "MLOPS_CACHE_DIR": str(cache_dir)}
    command = [sys.executable, "-m", "mlops", "local", "run", str(data_file), "--config", str(config_file), "--json"]
    started = time.perf_counter()
    finished = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    lines = [line for line in finished.stdout.splitlines() if line.startswith("{")]
    outcome = json.loads(lines[-1])["outcome"] if lines else f"exit {finished.returncode}: {finished.stderr.strip()[-200:]}"
    return seconds, outcome


if __name__ == "__main__":
    main()
