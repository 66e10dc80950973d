"""`mlops demo`: the pipeline's story on a real public dataset (Wisconsin breast cancer, shipped
with scikit-learn), run end to end in a local cloud.

1. A first upload is validated, trained, evaluated, registered and deployed.
2. A second, larger upload of the same kind trains a challenger that beats the champion on
   the same rows (scored by the training job, not the endpoint) and holds on the earlier
   approved test rows, and replaces it.
3. The first file uploaded again under another name is recognised as a duplicate: no training.
4. A broken file (a column of text where numbers belong, and the target missing) is
   quarantined with its reason; the model in production does not change.
5. Live traffic drifts (a recalibrated sensor shifts the ten "worst_*" measurements by 1.5
   standard deviations), and labelled rows of the recalibrated kind arrive (rejected at upload
   for drift): the scheduled drift monitor raises the drift alarm and the alarm responder
   starts one retraining on the curated data plus those new rows.
6. The serving version's model fails on every request (a fault injected into the local
   endpoint; a client's malformed request would be its own 4XX, which the errors alarm does not
   count): the 5XX alarm fires and the responder rolls the endpoint back to the previous
   approved version.

The demo's config evaluates alarms over one period, so a burst of a few seconds is enough;
the default (three periods of a minute) is what a production endpoint wants.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.cli_support import DEFAULT_RUNS_FOLDER, EXIT_FAILED, EXIT_OK
from mlops.commands.monitoring import run_scheduled_monitors, send_rows
from mlops.console import print_result

if TYPE_CHECKING:
    import pandas as pd

    from functions.common.outcome import Outcome

    from mlops.local.cloud import LocalCloud
    from mlops.local.progress import ExecutionProgress
    from mlops.local.results import UploadResult

DEMO_SEED = 7
FIRST_UPLOAD_FRACTION = 0.6
DEMO_ALARM_EVALUATION_PERIODS = 1
# The local endpoint shares the machine's CPU with the local cloud and whatever else runs on
# it, so on a busy laptop a request's latency measures the machine, not the model: a burst of
# live traffic there crossed the 1 s p99 alarm and rolled a good version back. The demo tells
# the drift and 5XX stories; pipeline.json keeps the threshold for a dedicated instance.
DEMO_LATENCY_P99_THRESHOLD_MS = 10_000.0
RECALIBRATED_PREFIX = "worst_"
DRIFT_SHIFT_STANDARD_DEVIATIONS = 1.5
LIVE_TRAFFIC_ROWS = 300
FAILING_REQUESTS = 12


def register(commands: argparse._SubParsersAction) -> None:
    demo_command = commands.add_parser("demo", help="the whole story on a real public dataset, in under a minute")
    demo_command.add_argument("--json", action="store_true", help="one JSON object per chapter, one per line; no progress")
    demo_command.add_argument("--keep", type=Path, default=None, metavar="FOLDER",
                              help="where to keep the demo's reports, quarantine copies, logs and outcomes "
                                   f"(default {DEFAULT_RUNS_FOLDER}/<UTC time>-demo)")
    demo_command.set_defaults(local_only=True, handler=lambda arguments: demo(arguments.json, arguments.keep))


@dataclass
class Chapter:
    title: str
    file: Path
    expected_outcome: Outcome
    key: str | None = None


def breast_cancer_frame() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [str(column).replace(" ", "_") for column in frame.columns]
    return frame.sample(frac=1.0, random_state=DEMO_SEED).reset_index(drop=True)


def write_demo_files(folder: Path) -> tuple[Path, list[Chapter]]:
    from functions.common.outcome import Outcome
    from mlops.schema_inference import infer_config

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
    config.monitoring.evaluation_periods = DEMO_ALARM_EVALUATION_PERIODS
    config.monitoring.latency_p99_threshold_ms = DEMO_LATENCY_P99_THRESHOLD_MS
    config_file = folder / "pipeline.json"
    config_file.write_text(config.to_json(), encoding="utf-8")
    chapters = [
        Chapter("A first dataset arrives: validate, train, evaluate, register, deploy", first_file, Outcome.DEPLOYED),
        Chapter("More data of the same kind: the challenger must beat the champion", full_file, Outcome.DEPLOYED),
        Chapter("The first file is delivered again under another name", first_file, Outcome.DUPLICATE, "incoming/resend_2024_01.csv"),
        Chapter("A broken export: quarantined with its reason, nothing lost", broken_file, Outcome.DATA_REJECTED),
    ]
    return config_file, chapters


def demo(as_json: bool, keep: Path | None = None) -> int:
    from mlops.local.cloud import LocalCloud
    from mlops.local.progress import ExecutionProgress
    from mlops.local.run_folder import RunFolder, run_name
    from mlops.local.runner import run_upload

    started = time.monotonic()
    folder = RunFolder(keep or DEFAULT_RUNS_FOLDER / run_name("demo", datetime.now(UTC)))
    kept: list[UploadResult] = []
    with tempfile.TemporaryDirectory(prefix="mlops-demo-") as work:
        config_file, chapters = write_demo_files(Path(work))
        _say(as_json, "Starting a local cloud: cdk synth, then the stack deployed into moto...")
        with LocalCloud(config_file, log_folder=folder.function_log_folder, job_log_folder=folder.job_log_folder) as cloud:
            progress = None if as_json else ExecutionProgress(cloud, sys.stderr)
            _say(as_json, f"Ready in {time.monotonic() - started:.1f} s.\n")
            surprises = 0
            total = len(chapters) + len(MONITORING_CHAPTERS)
            try:
                for number, chapter in enumerate(chapters, start=1):
                    _say(as_json, f"Chapter {number}. {chapter.title}")
                    result = run_upload(cloud, chapter.file, chapter.key, progress=progress)
                    kept.append(result)
                    as_expected = result.outcome == chapter.expected_outcome
                    if as_json:
                        _emit_chapter(number, chapter.title, as_expected,
                                      {"expected_outcome": str(chapter.expected_outcome), "upload": result.to_dict()})
                    else:
                        print_result(result, number, total)
                        print()
                    if not as_expected:
                        surprises += 1
                        _say(as_json, f"   expected {chapter.expected_outcome}, got {result.outcome}")
                frame = breast_cancer_frame()
                for number, (title, story) in enumerate(MONITORING_CHAPTERS, start=len(chapters) + 1):
                    _say(as_json, f"Chapter {number}. {title}")
                    as_expected, record = story(cloud, frame, number, total, as_json, progress, kept)
                    if as_json:
                        _emit_chapter(number, title, as_expected, record)
                    surprises += 0 if as_expected else 1
            finally:
                folder.sync(cloud)
                folder.write_outcomes(kept)
    _say(as_json, f"Demo finished in {time.monotonic() - started:.1f} s.")
    print("\n".join(folder.summary_lines(kept)), file=sys.stderr if as_json else sys.stdout)
    return EXIT_OK if surprises == 0 else EXIT_FAILED


def _emit_chapter(number: int, title: str, as_expected: bool, record: dict[str, Any]) -> None:
    """`--json`: one object per chapter, one per line."""
    print(json.dumps({"chapter": number, "title": title, "as_expected": as_expected, **record}, default=str), flush=True)


def drift_story(
    cloud: LocalCloud, frame: pd.DataFrame, number: int, total: int, as_json: bool,
    progress: ExecutionProgress | None, kept: list[UploadResult],
) -> tuple[bool, dict[str, Any]]:
    from mlops.local.runner import execution_result, run_upload

    labelled = frame.sample(LIVE_TRAFFIC_ROWS, random_state=DEMO_SEED)
    recalibrated = [column for column in labelled.columns if column.startswith(RECALIBRATED_PREFIX)]
    for column in recalibrated:
        labelled[column] += DRIFT_SHIFT_STANDARD_DEVIATIONS * frame[column].std()
    # The new period's labelled rows: drifted features reject the upload, and the retraining
    # takes them in (a retrain with no new rows since the serving version is skipped).
    with tempfile.TemporaryDirectory(prefix="mlops-demo-drift-") as folder:
        new_rows = Path(folder) / "breast_cancer_2024_03_recalibrated.csv"
        labelled.to_csv(new_rows, index=False)
        upload = run_upload(cloud, new_rows, progress=progress)
    kept.append(upload)
    if not as_json:
        print_result(upload, number, total)
        print()
    traffic = labelled.drop(columns=["target"])
    sent = send_rows(cloud.client("sagemaker-runtime"), cloud.outputs.endpoint_name, traffic)
    _say(as_json, f"   sent {sent.rows} rows of live traffic with {len(recalibrated)} features shifted; running the drift monitor")
    started, delivered = len(cloud.standins.started_executions), len(cloud.standins.deliveries)
    run_scheduled_monitors(cloud.client("events"), cloud.client("lambda"))
    decisions = _show_decisions(cloud, delivered, as_json)
    retrains = [execution_result(cloud, arn, "retraining", progress) for arn in cloud.standins.started_executions[started:]]
    kept.extend(retrains)
    if not as_json:
        for retrain in retrains:
            print_result(retrain, number, total)
            print()
    return len(retrains) == 1, {
        "new_rows_upload": upload.to_dict(),
        "live_rows_sent": sent.rows,
        "shifted_features": recalibrated,
        "alarm_decisions": decisions,
        "retrainings": [retrain.to_dict() for retrain in retrains],
    }


def rollback_story(
    cloud: LocalCloud, frame: pd.DataFrame, number: int, total: int, as_json: bool,
    progress: ExecutionProgress | None, kept: list[UploadResult],
) -> tuple[bool, dict[str, Any]]:
    from mlops.local.runner import endpoint_status

    before, delivered = endpoint_status(cloud), len(cloud.standins.deliveries)
    # A client's malformed request is its own 4XX, which the errors alarm does not count; the
    # model's own failure is a 5XX, injected here into the serving version's container.
    cloud.standins.endpoints.failing_model_versions.add(str(before["model_version"]))
    requests = frame.drop(columns=["target"]).head(FAILING_REQUESTS)
    failed = send_rows(cloud.client("sagemaker-runtime"), cloud.outputs.endpoint_name, requests, rows_per_request=1)
    _say(as_json, f"   {failed.failed_requests} of {failed.requests} requests failed (version {before['model_version']}'s model fails on every request)")
    decisions = _show_decisions(cloud, delivered, as_json)
    after = endpoint_status(cloud)
    _say(as_json, f"   endpoint served version {before['model_version']}, now serves version {after['model_version']}\n")
    return after["model_version"] != before["model_version"], {
        "requests": failed.requests,
        "failed_requests": failed.failed_requests,
        "alarm_decisions": decisions,
        "version_before": before["model_version"],
        "version_after": after["model_version"],
    }


MONITORING_CHAPTERS = [
    ("Live traffic drifts: the drift alarm starts one retraining", drift_story),
    ("The serving model fails on every request: the 5XX alarm rolls the endpoint back", rollback_story),
]


def _show_decisions(cloud: LocalCloud, since: int, as_json: bool) -> list[dict[str, Any]]:
    """The alarm responder's decisions on the alarm state changes delivered since `since`, each
    naming the alarm that caused it."""
    from mlops.local.standins import ALARM_STATE_CHANGE

    decisions = []
    for delivery in cloud.standins.deliveries[since:]:
        if delivery.detail_type == ALARM_STATE_CHANGE and delivery.result:
            decision = delivery.result
            decisions.append(decision)
            _say(as_json, f"   alarm {decision.get('alarm_name')} -> {decision.get('action')}: {decision.get('outcome')}")
            _say(as_json, f"      why: {decision.get('reason')}")
    return decisions


def _say(as_json: bool, message: str) -> None:
    print(message, file=sys.stderr if as_json else sys.stdout, flush=True)
