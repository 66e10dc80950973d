"""The program of a training job that runs the user's own code (`training.source_dir`).

SageMaker's training toolkit installs the bundle's requirements.txt and runs this file as the
job's `sagemaker_program` (aws/sagemaker-training-toolkit v4.8.0, src/sagemaker_training/
entry_point.py `run` and modules.py `install_requirements`). It runs the user's `train.py` as the
toolkit would run it (`python train.py --name value ...`, the same SM_* environment, the source
directory as working directory), then checks what the pipeline reads after the job, so that a
script that breaks the script-mode contract fails the job with a reason naming the part it broke,
before anything is evaluated, registered or deployed:

1. `predictions.csv` in SM_OUTPUT_DATA_DIR, with a `prediction` column (evaluation reads it);
2. one prediction per row of the test split, in its order;
3. the model serves: the artifact in SM_MODEL_DIR is loaded by `code/inference.py` and answers the
   test split's feature rows in the pipeline's JSON response format, as the endpoint's first load
   and first request would.

When a version serves and the user's script did not score it, this program writes what the
built-in trainer writes for the champion/challenger gate (champion_predictions.csv, and on the
reference holdout reference_predictions.csv, champion_reference_predictions.csv and
reference_labels.csv), each model scored through its own serving code, so the user's script
only has to train its model.

When the user's script left no `code/inference.py` in SM_MODEL_DIR, the bundle's Python code and
`pipeline_config.json` are copied to `SM_MODEL_DIR/code/` (the user's `inference.py`, or the
built-in one the bundle carries in its place), as SageMaker repacks a source directory into the
model's `code/` folder; the endpoint serves with SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code.

Runs in the framework image (Python 3.10+) with the standard library; the serving check runs in a
fresh interpreter with the image's serving stack (sagemaker-containers), as the endpoint does.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

USER_ENTRY_POINT = "train.py"
INFERENCE_FILE_NAME = "inference.py"
CONFIG_FILE_NAME = "pipeline_config.json"
PREDICTIONS_FILE_NAME = "predictions.csv"
PREDICTION_COLUMN = "prediction"
PROBABILITY_COLUMN_PREFIX = "proba__"
MODEL_ARCHIVE_NAME = "model.tar.gz"
# What the built-in trainer writes when a version serves (functions/evaluate_model/champion.py reads them).
CHAMPION_PREDICTIONS_FILE_NAME = "champion_predictions.csv"
REFERENCE_PREDICTIONS_FILE_NAME = "reference_predictions.csv"
CHAMPION_REFERENCE_PREDICTIONS_FILE_NAME = "champion_reference_predictions.csv"
REFERENCE_LABELS_FILE_NAME = "reference_labels.csv"
LABEL_COLUMN = "label"
SPLIT_FILE_NAME = "data.csv"
FAILURE_FILE_NAME = "failure"
CODE_DIR_NAME = "code"
MODEL_DIR_NAME = "model"
# Not copied into the model's code/: the installer's input and this program.
NOT_SERVING_CODE = frozenset({"requirements.txt", "wheels", Path(__file__).name, "__pycache__"})
SERVE_FLAG = "--serve"
# Rows of the test split sent in the serving check: enough to exercise the request decoding,
# and far below the 6 MB real-time payload limit.
SERVE_CHECK_ROWS = 50
HTTP_OK = 200
MAX_FAILURE_REASON_CHARS = 1000
STDERR_TAIL_LINES = 3
EXIT_CODE_CONTRACT_BROKEN = 3
NON_FEATURE_TYPES = frozenset({"date", "ignore"})


class ContractBroken(Exception):
    """The user's script finished, and what it left breaks the script-mode contract."""


def _environment_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name, default))


def _fail(reason: str, exit_code: int) -> int:
    one_line = " ".join(reason.split())[:MAX_FAILURE_REASON_CHARS]
    print(f"training failed: {one_line}", file=sys.stderr, flush=True)
    output_dir = _environment_path("SM_OUTPUT_DIR", "/opt/ml/output")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / FAILURE_FILE_NAME).write_text(one_line + "\n", encoding="utf-8")
    except OSError as error:
        print(f"cannot write the failure reason to {output_dir}: {error}", file=sys.stderr, flush=True)
    return exit_code


def run_user_script(source_dir: Path, argv: list[str]) -> tuple[int, list[str]]:
    """Run train.py; its output passes through, and the last lines it wrote to stderr are kept
    for a failure reason when it leaves none of its own."""
    process = subprocess.Popen(
        [sys.executable, USER_ENTRY_POINT, *argv], cwd=source_dir, stderr=subprocess.PIPE, text=True, errors="replace"
    )
    tail: list[str] = []
    assert process.stderr is not None
    for line in process.stderr:
        sys.stderr.write(line)
        sys.stderr.flush()
        if line.strip():
            tail = [*tail, line.strip()][-STDERR_TAIL_LINES:]
    return process.wait(), tail


def _data_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [row for row in csv.reader(handle) if row]
    return (rows[0], rows[1:]) if rows else ([], [])


def split_file(channel_dir: Path) -> Path | None:
    """A channel's split, found as the built-in trainer finds it (train.py _channel_file)."""
    if not channel_dir.is_dir():
        return None
    named = channel_dir / SPLIT_FILE_NAME
    if named.is_file():
        return named
    csv_files = sorted(channel_dir.glob("*.csv"))
    return csv_files[0] if len(csv_files) == 1 else None


def check_predictions(output_data_dir: Path, test_split: Path) -> int:
    """The number of test rows, once predictions.csv has one prediction for each of them."""
    predictions = output_data_dir / PREDICTIONS_FILE_NAME
    if not predictions.is_file():
        raise ContractBroken(
            f"script-mode contract broken: train.py wrote no {PREDICTIONS_FILE_NAME} to SM_OUTPUT_DATA_DIR; "
            "the evaluation scores the model from its predictions on the test split"
        )
    _, test_rows = _data_rows(test_split)
    try:
        header, prediction_rows = _data_rows(predictions)
    except (UnicodeDecodeError, csv.Error) as error:
        raise ContractBroken(f"script-mode contract broken: {PREDICTIONS_FILE_NAME} is not CSV text ({error})") from error
    if PREDICTION_COLUMN not in header:
        raise ContractBroken(
            f"script-mode contract broken: {PREDICTIONS_FILE_NAME} has no {PREDICTION_COLUMN!r} column "
            f"(its header: {', '.join(header) or 'none'})"
        )
    if len(prediction_rows) != len(test_rows):
        raise ContractBroken(
            f"script-mode contract broken: {PREDICTIONS_FILE_NAME} has {len(prediction_rows)} rows for the test "
            f"split's {len(test_rows)}; it must hold one prediction per test row, in the test split's order"
        )
    return len(test_rows)


def package_serving_code(source_dir: Path, model_dir: Path) -> None:
    """The bundle's code into the model's code/, unless the user's script put its own there."""
    code_dir = model_dir / CODE_DIR_NAME
    if (code_dir / INFERENCE_FILE_NAME).is_file():
        return
    code_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(source_dir.iterdir()):
        if path.name in NOT_SERVING_CODE or path.name.startswith("."):
            continue
        if path.is_dir():
            shutil.copytree(path, code_dir / path.name, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.suffix == ".py" or path.name == CONFIG_FILE_NAME:
            shutil.copyfile(path, code_dir / path.name)


def _feature_names(config_path: Path) -> tuple[list[str], str]:
    dataset = json.loads(config_path.read_text(encoding="utf-8"))["dataset"]
    features = [
        column["name"]
        for column in dataset["columns"]
        if column["name"] != dataset["target"] and column["type"] not in NON_FEATURE_TYPES
    ]
    return features, dataset["target"]


def _request_body(header: list[str], rows: list[list[str]], features: list[str]) -> str:
    """Rows as the endpoint receives them: the features in schema order, CSV without a header."""
    positions = [header.index(name) for name in features]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([row[position] for position in positions])
    return buffer.getvalue()


def serve(model_root: Path, bodies: list[str]) -> list[dict[str, object]]:
    """Each body answered by the model unpacked under `model_root/model`, loaded by its own
    code/inference.py in a fresh interpreter with the image's serving stack, as an endpoint
    loads it. Raises ContractBroken when the model does not load."""
    environment = {
        **os.environ,
        "SAGEMAKER_BASE_DIR": str(model_root),
        "SAGEMAKER_PROGRAM": INFERENCE_FILE_NAME,
        "SAGEMAKER_SUBMIT_DIRECTORY": str(model_root / MODEL_DIR_NAME / CODE_DIR_NAME),
    }
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), SERVE_FLAG],
        input=json.dumps(bodies).encode("utf-8"), capture_output=True, env=environment,
        cwd=model_root, check=False,
    )
    sys.stderr.write(completed.stderr.decode("utf-8", errors="replace"))
    lines = completed.stdout.decode("utf-8", errors="replace").strip().splitlines()
    verdict = json.loads(lines[-1]) if lines else {"error": f"the serving process exited with status {completed.returncode}"}
    if verdict.get("error"):
        raise ContractBroken(str(verdict["error"]))
    return list(verdict["answers"])


def _predictions(answer: dict[str, object], rows: int, whose: str) -> dict[str, object]:
    """The pipeline's JSON response, {"predictions": [...], "probabilities": [[...]], "classes": [...]}."""
    if answer["status"] != HTTP_OK:
        raise ContractBroken(f"{whose} answered a request of {rows} test rows with {answer['status']}: {str(answer['body'])[:300]}")
    try:
        document = json.loads(str(answer["body"]))
        predictions = document["predictions"]
    except (ValueError, TypeError, KeyError):
        raise ContractBroken(
            f"{whose} did not answer in the pipeline's JSON response format "
            '({"predictions": [...], "probabilities": [[...]], "classes": [...]})'
        ) from None
    if not isinstance(predictions, list) or len(predictions) != rows:
        count = len(predictions) if isinstance(predictions, list) else "no list of"
        raise ContractBroken(f"{whose} answered a request of {rows} test rows with {count} predictions")
    return document


def check_serving(model_dir: Path, config_path: Path, test_split: Path) -> None:
    """The challenger loads and answers test rows, as the endpoint's first load and request do."""
    features, _ = _feature_names(config_path)
    header, rows = _data_rows(test_split)
    chosen = rows[:SERVE_CHECK_ROWS]
    try:
        (answer,) = serve(model_dir.parent, [_request_body(header, chosen, features)])
        _predictions(answer, len(chosen), "the model")
    except ContractBroken as error:
        raise ContractBroken(f"script-mode contract broken: the model does not serve: {error}") from error


def _write_predictions(document: dict[str, object], path: Path) -> None:
    """predictions.csv's layout: `prediction`, then one `proba__<class>` column per class."""
    classes = document.get("classes") or []
    probabilities = document.get("probabilities") or []
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([PREDICTION_COLUMN, *(f"{PROBABILITY_COLUMN_PREFIX}{label}" for label in classes)])
        for position, prediction in enumerate(document["predictions"]):  # type: ignore[arg-type]
            row = [prediction]
            if classes:
                row.extend(repr(float(value)) for value in probabilities[position])  # type: ignore[index]
            writer.writerow(row)


def _champion_archive(champion_dir: Path) -> Path | None:
    archives = sorted(champion_dir.rglob(MODEL_ARCHIVE_NAME)) if champion_dir.is_dir() else []
    return archives[0] if archives else None


def _reference_rows(reference_dir: Path, train_split: Path | None, columns: list[str]) -> tuple[list[str], list[list[str]]]:
    """The reference holdout's rows with a label, less those that are also training rows (a
    model is not graded on rows it learned), as the built-in trainer reads them."""
    paths = sorted(path for path in reference_dir.rglob("*.csv") if path.is_file()) if reference_dir.is_dir() else []
    seen: set[tuple[str, ...]] = set()
    if train_split is not None:
        train_header, train_rows = _data_rows(train_split)
        if all(name in train_header for name in columns):
            positions = [train_header.index(name) for name in columns]
            seen = {tuple(row[p] for p in positions) for row in train_rows}
    rows: list[list[str]] = []
    for path in paths:
        header, found = _data_rows(path)
        positions = [header.index(name) for name in columns]
        for row in found:
            values = [row[p] for p in positions]
            if values[-1].strip() and tuple(values) not in seen:
                rows.append(values)
    return columns, rows


def compare_with_champion(model_dir: Path, config_path: Path, test_split: Path, output_data_dir: Path) -> None:
    """What the built-in trainer writes when a version serves, for a user's script that did not:
    the champion's predictions on the test rows, and both models' on the reference holdout, each
    model scored through its own serving code."""
    archive = _champion_archive(_environment_path("SM_CHANNEL_CHAMPION", "/opt/ml/input/data/champion"))
    if archive is None or (output_data_dir / CHAMPION_PREDICTIONS_FILE_NAME).exists():
        return
    features, target = _feature_names(config_path)
    test_header, test_rows = _data_rows(test_split)
    train_split = split_file(_environment_path("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    reference_header, reference_rows = _reference_rows(
        _environment_path("SM_CHANNEL_REFERENCE", "/opt/ml/input/data/reference"), train_split, [*features, target]
    )
    with tempfile.TemporaryDirectory(prefix="champion-") as work:
        champion_root = Path(work)
        try:
            with tarfile.open(archive, mode="r:gz") as unpacked:
                # The "data" filter refuses members that would land outside the folder; Python
                # releases before 3.10.12 lack it.
                if hasattr(tarfile, "data_filter"):
                    unpacked.extractall(champion_root / MODEL_DIR_NAME, filter="data")
                else:
                    unpacked.extractall(champion_root / MODEL_DIR_NAME)
        except (tarfile.TarError, OSError) as error:
            raise ContractBroken(f"the champion's {MODEL_ARCHIVE_NAME} cannot be unpacked: {error}") from error
        bodies = [_request_body(test_header, test_rows, features)]
        if reference_rows:
            bodies.append(_request_body(reference_header, reference_rows, features))
        try:
            answers = serve(champion_root, bodies)
        except ContractBroken as error:
            raise ContractBroken(f"the champion cannot score the rows: {error}") from error
        _write_predictions(_predictions(answers[0], len(test_rows), "the champion"), output_data_dir / CHAMPION_PREDICTIONS_FILE_NAME)
        if not reference_rows:
            return
        _write_predictions(
            _predictions(answers[1], len(reference_rows), "the champion"),
            output_data_dir / CHAMPION_REFERENCE_PREDICTIONS_FILE_NAME,
        )
    try:
        (challenger,) = serve(model_dir.parent, [bodies[1]])
        document = _predictions(challenger, len(reference_rows), "the model")
    except ContractBroken as error:
        raise ContractBroken(f"script-mode contract broken: the model does not serve: {error}") from error
    _write_predictions(document, output_data_dir / REFERENCE_PREDICTIONS_FILE_NAME)
    with (output_data_dir / REFERENCE_LABELS_FILE_NAME).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([LABEL_COLUMN])
        writer.writerows([row[-1]] for row in reference_rows)


def _serve_bodies() -> dict[str, object]:
    """In the fresh interpreter: what src/sagemaker_sklearn_container/serving.py does at the first
    request (aws/sagemaker-scikit-learn-container 1.4-2), wired as mlops/local/image_serving_host.py
    wires it, then one request per body."""
    if not (Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")) / MODEL_DIR_NAME).is_dir():
        return {"error": f"there is no {MODEL_DIR_NAME} folder to serve"}
    bodies = json.loads(sys.stdin.read())
    try:
        from sagemaker_containers.beta.framework import env, transformer, worker
    except ImportError as error:
        return {"error": f"the image has no sagemaker-containers serving stack to load the model with ({error})"}
    try:
        serving_env = env.ServingEnv()
        sys.path.insert(0, serving_env.module_dir)
        user_module = importlib.import_module(serving_env.module_name)
        functions = {name: getattr(user_module, name, None) for name in ("input_fn", "predict_fn", "output_fn")}
        transform_fn = getattr(user_module, "transform_fn", None)
        if transform_fn is not None and any(functions.values()):
            raise ValueError("Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn")
        model_fn = getattr(user_module, "model_fn", None)
        if transform_fn is not None:
            user_transformer = transformer.Transformer(model_fn=model_fn, transform_fn=transform_fn)
        else:
            user_transformer = transformer.Transformer(model_fn=model_fn, **functions)
        user_transformer.initialize()
    except Exception as error:  # noqa: BLE001 - whatever the model's code raises is the reason
        # sagemaker-containers wraps what model_fn raised in its ClientError (_functions.error_wrapper:
        # ClientError(original)); the user's own error says more.
        original = error.args[0] if error.args and isinstance(error.args[0], BaseException) else error
        return {"error": f"loading it with {INFERENCE_FILE_NAME} failed: {type(original).__name__}: {original}"}
    client = worker.Worker(transform_fn=user_transformer.transform, module_name=serving_env.module_name).test_client()
    answers = []
    for body in bodies:
        response = client.post(
            "/invocations", data=body.encode("utf-8"), headers={"Content-Type": "text/csv", "Accept": "application/json"}
        )
        answers.append({"status": response.status_code, "body": response.get_data().decode("utf-8", errors="replace")})
    return {"error": None, "answers": answers}


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == [SERVE_FLAG]:
        # The model's code may print; the verdict is the last line.
        print(json.dumps(_serve_bodies()), flush=True)
        return 0
    source_dir = Path(__file__).resolve().parent
    output_dir = _environment_path("SM_OUTPUT_DIR", "/opt/ml/output")
    exit_code, stderr_tail = run_user_script(source_dir, arguments)
    if exit_code != 0:
        if (output_dir / FAILURE_FILE_NAME).is_file():
            return exit_code
        return _fail(f"{USER_ENTRY_POINT} exited with status {exit_code}: {' | '.join(stderr_tail)}", exit_code)
    model_dir = _environment_path("SM_MODEL_DIR", "/opt/ml/model")
    test_split = split_file(_environment_path("SM_CHANNEL_TEST", "/opt/ml/input/data/test"))
    try:
        if test_split is None:
            raise ContractBroken("the job received no test split, so the model cannot be evaluated")
        output_data_dir = _environment_path("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data")
        check_predictions(output_data_dir, test_split)
        package_serving_code(source_dir, model_dir)
        config_path = source_dir / CONFIG_FILE_NAME
        check_serving(model_dir, config_path, test_split)
        compare_with_champion(model_dir, config_path, test_split, output_data_dir)
    except ContractBroken as error:
        return _fail(str(error), EXIT_CODE_CONTRACT_BROKEN)
    print("script-mode contract met: predictions for every test row, and the model serves", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
