"""`mlops demo`: the pipeline's story on a real public dataset (Wisconsin breast cancer, shipped
with scikit-learn), run end to end in a local cloud.

1. A first upload is validated, trained, evaluated, registered and deployed.
2. A second, larger upload of the same kind trains a challenger that beats or matches the
   champion on the same rows, and replaces it.
3. The first file uploaded again under another name is recognised as a duplicate: no training.
4. A broken file (a column of text where numbers belong, and the target missing) is
   quarantined with its reason; the model in production does not change.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mlops.cli import EXIT_FAILED, EXIT_OK
from mlops.console import print_result
from mlops.local.cloud import LocalCloud
from mlops.local.runner import run_upload

DEMO_SEED = 7
FIRST_UPLOAD_FRACTION = 0.6


@dataclass
class Chapter:
    title: str
    file: Path
    expected_outcome: str
    key: str | None = None


def breast_cancer_frame() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [str(column).replace(" ", "_") for column in frame.columns]
    return frame.sample(frac=1.0, random_state=DEMO_SEED).reset_index(drop=True)


def write_demo_files(folder: Path) -> tuple[Path, list[Chapter]]:
    from functions.validate_data.schema_inference import infer_config

    frame = breast_cancer_frame()
    first = frame.iloc[: int(len(frame) * FIRST_UPLOAD_FRACTION)]
    first_file = folder / "breast_cancer_2024_01.csv"
    first.to_csv(first_file, index=False)
    full_file = folder / "breast_cancer_2024_02.csv"
    frame.to_csv(full_file, index=False)
    broken = first.drop(columns=["target"]).head(120).copy()
    broken["mean_radius"] = broken["mean_radius"].astype(str)
    broken.loc[broken.index[:10], "mean_radius"] = "n/a (sensor offline)"
    broken_file = folder / "breast_cancer_broken_export.csv"
    broken.to_csv(broken_file, index=False)

    config = infer_config(first, "target", project="mlops")
    config_file = folder / "pipeline.json"
    config_file.write_text(config.to_json(), encoding="utf-8")
    chapters = [
        Chapter("A first dataset arrives: validate, train, evaluate, register, deploy", first_file, "deployed"),
        Chapter("More data of the same kind: the challenger must match or beat the champion", full_file, "deployed"),
        Chapter("The first file is delivered again under another name", first_file, "duplicate", "incoming/resend_2024_01.csv"),
        Chapter("A broken export: quarantined with its reason, nothing lost", broken_file, "data_rejected"),
    ]
    return config_file, chapters


def demo(as_json: bool) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mlops-demo-") as folder:
        config_file, chapters = write_demo_files(Path(folder))
        _say(as_json, "Starting a local cloud: cdk synth, then the stack deployed into moto...")
        with LocalCloud(config_file) as cloud:
            _say(as_json, f"Ready in {time.monotonic() - started:.1f} s.\n")
            surprises = 0
            for number, chapter in enumerate(chapters, start=1):
                _say(as_json, f"Chapter {number}. {chapter.title}")
                result = run_upload(cloud, chapter.file, chapter.key)
                if as_json:
                    print(result.to_json(), flush=True)
                else:
                    print_result(result, number, len(chapters))
                    print()
                if result.outcome != chapter.expected_outcome:
                    surprises += 1
                    _say(as_json, f"   expected {chapter.expected_outcome}, got {result.outcome}")
    _say(as_json, f"Demo finished in {time.monotonic() - started:.1f} s.")
    return EXIT_OK if surprises == 0 else EXIT_FAILED


def _say(as_json: bool, message: str) -> None:
    print(message, file=sys.stderr if as_json else sys.stdout, flush=True)
