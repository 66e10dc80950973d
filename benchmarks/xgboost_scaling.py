"""Training the XGBoost framework on one, two and four instances: time and peak memory per worker.

The built-in XGBoost trainer, bundled as the CDK app bundles it, runs in the XGBoost image's
environment (mlops/local/runtime_env.py) as the local training job runs it: one process per
instance, each with its SM_CURRENT_HOST, the job's SM_HOSTS (loopback addresses) and its share of
the training rows as a part file, training one model over XGBoost's collective. The table is the
benchmarks' resampled breast cancer table (common.py) at 5,000,000 rows by default, dealt out in
turn into one part file per worker, as validation writes the curated training split for a
distributed job; the validation and test channels hold VALIDATION_ROWS rows each.

Each worker reports its wall time (reading its part, agreeing on columns and classes, training,
and on the first worker scoring the validation and test rows and writing the model) and its peak
resident set size. On this machine the workers share its cores, so the wall time shows what the
collective costs, not the speed-up of instances that each have their own cores; the memory per
worker is what lets each instance be smaller.

    python -m benchmarks.xgboost_scaling [--rows N] [--rounds N] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import DATA_SEED, TARGET, benchmark_config, breast_cancer_frame, print_table

DEFAULT_ROWS = 5_000_000
DEFAULT_ROUNDS = 100
DEFAULT_WORKERS = (1, 2, 4)
VALIDATION_ROWS = 20_000
MAX_DEPTH = 6
RUN_TIMEOUT_SECONDS = 3600
BYTES_PER_MB = 1024 * 1024

# Runs train.py as the entry point and reports the process's peak RSS (ru_maxrss, KiB on Linux).
WORKER = """
import json, resource, runpy, sys, time
sys.path.insert(0, ".")
sys.argv = ["train.py", *sys.argv[1:]]
started = time.perf_counter()
code = 0
try:
    runpy.run_path("train.py", run_name="__main__")
except SystemExit as exit_:
    code = exit_.code or 0
print("WORKER " + json.dumps({"seconds": time.perf_counter() - started, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "exit": code}), flush=True)
sys.exit(code)
"""


def write_parts(frame, folder: Path, workers: int) -> list[Path]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for part in range(workers):
        path = folder / f"part-{part:05d}.csv"
        pacsv.write_csv(pa.Table.from_pandas(frame.iloc[part::workers], preserve_index=False), path)
        paths.append(path)
    return paths


def prepare_job(root: Path, rows: int, workers: int, frame, holdout) -> tuple[Path, list[str]]:
    from functions.common.config import PipelineConfig
    from infra import assets
    from mlops.local import training_hosts

    config = benchmark_config(rows).model_dump(exclude_none=True)
    config["training"] = {"framework": "xgboost", "instance_count": workers}
    config_file = root / "pipeline.json"
    config_file.write_text(PipelineConfig.model_validate(config).to_json(), encoding="utf-8")
    bundle = assets.build_training_bundle(config_file, root / "sourcedir.tar.gz")
    code_dir = root / "code"
    with tarfile.open(bundle, mode="r:gz") as archive:
        archive.extractall(code_dir, filter="data")
    hosts = training_hosts.job_hosts(workers)
    for position, host in enumerate(hosts):
        host_root = root / host
        write_parts(frame.iloc[position::workers], host_root / "input" / "data" / "train", 1)
        for channel in ("validation", "test"):
            write_parts(holdout, host_root / "input" / "data" / channel, 1)
            (host_root / "input" / "data" / channel / "part-00000.csv").rename(host_root / "input" / "data" / channel / "data.csv")
        (host_root / "model").mkdir()
        (host_root / "output" / "data").mkdir(parents=True)
    return code_dir, hosts


def run_job(root: Path, code_dir: Path, hosts: list[str], rounds: int) -> list[dict]:
    from mlops.local import runtime_env, training_hosts

    python = runtime_env.image_python("xgboost")

    def worker(host: str) -> dict:
        host_root = root / host
        environment = {key: value for key, value in runtime_env.clean_environment().items() if not key.startswith("SM_")}
        environment.update(
            training_hosts.host_environment(hosts),
            SM_CURRENT_HOST=host,
            SM_HOSTS=json.dumps(hosts),
            SM_MODEL_DIR=str(host_root / "model"),
            SM_OUTPUT_DIR=str(host_root / "output"),
            SM_OUTPUT_DATA_DIR=str(host_root / "output" / "data"),
            **{f"SM_CHANNEL_{name.upper()}": str(host_root / "input" / "data" / name) for name in ("train", "validation", "test")},
        )
        completed = subprocess.run(
            [str(python), "-c", WORKER, "--num_round", str(rounds), "--max_depth", str(MAX_DEPTH)],
            cwd=code_dir, env=environment, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False,
        )
        report = next((line for line in completed.stdout.splitlines() if line.startswith("WORKER ")), None)
        if completed.returncode != 0 or report is None:
            raise SystemExit(f"worker {host} failed: {completed.stdout[-2000:]}{completed.stderr[-2000:]}")
        metrics = next(
            (json.loads(line.split(": ", 1)[1])["validation_metrics"] for line in completed.stdout.splitlines()
             if line.startswith("training complete: ")),
            None,
        )
        return {**json.loads(report.removeprefix("WORKER ")), "host": host, "metrics": metrics}

    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        return list(pool.map(worker, hosts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--workers", default=",".join(map(str, DEFAULT_WORKERS)))
    arguments = parser.parse_args(argv)
    counts = [int(value) for value in arguments.workers.split(",")]

    started = time.perf_counter()
    frame = breast_cancer_frame(arguments.rows)
    frame[TARGET] = frame[TARGET].astype(str)
    holdout = breast_cancer_frame(VALIDATION_ROWS, seed=DATA_SEED + 1)
    holdout[TARGET] = holdout[TARGET].astype(str)
    print(f"{arguments.rows:,} rows x {frame.shape[1]} columns generated in {time.perf_counter() - started:.1f} s", flush=True)

    rows = []
    baseline: dict | None = None
    for workers in counts:
        with tempfile.TemporaryDirectory(prefix=f"xgboost-scaling-{workers}-") as folder:
            root = Path(folder)
            code_dir, hosts = prepare_job(root, arguments.rows, workers, frame, holdout)
            results = run_job(root, code_dir, hosts, arguments.rounds)
        wall = max(result["seconds"] for result in results)
        peak = max(result["peak_kib"] for result in results) * 1024 / BYTES_PER_MB
        # The first worker also scores the validation and test rows and writes the model.
        others = max((result["peak_kib"] for result in results[1:]), default=None)
        others_mb = others * 1024 / BYTES_PER_MB if others is not None else None
        auc = results[0]["metrics"].get("roc_auc")
        if baseline is None:
            baseline = {"wall": wall, "peak": peak}
        rows.append([
            workers,
            f"{arguments.rows // workers:,}",
            wall,
            wall / baseline["wall"],
            peak,
            peak / baseline["peak"],
            "-" if others_mb is None else others_mb,
            wall * workers / baseline["wall"],
            auc,
        ])
        print(f"{workers} worker(s): {wall:.1f} s, peak {peak:.0f} MB per worker: "
              + ", ".join(f"{result['peak_kib'] / 1024:.0f}" for result in results), flush=True)
    print_table(
        f"XGBoost {arguments.rounds} rounds, depth {MAX_DEPTH}, {arguments.rows:,} rows, workers sharing this machine's cores",
        ["workers", "rows per worker", "seconds", "x 1 worker", "peak MB per worker", "x 1 worker", "peak MB, other workers",
         "worker-seconds x 1 worker", "validation roc_auc"],
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
