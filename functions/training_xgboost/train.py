"""Training entry point for the SageMaker XGBoost framework container (3.0-5), script mode.

The same contract as the scikit-learn trainer (``tabular_training``, its train.py, carried in
this bundle): ``--name value`` hyperparameters over ``SM_HPS``; channels ``train`` (required),
``validation`` and ``test`` of CSV files with a header row; ``SM_MODEL_DIR`` receives the model,
metadata.json and code/ (this folder's inference.py, tabular_serving.py and the config), so the
artifact serves itself; ``SM_OUTPUT_DATA_DIR`` receives predictions.csv, and with a champion
the same comparison files; ``validation:<metric>=<value>;`` lines; a one-line reason in
``SM_OUTPUT_DIR/failure`` and a non-zero exit on failure.

Several instances train one model together with XGBoost's collective (Rabit) protocol, as
src/sagemaker_xgboost_container/distributed.py of aws/sagemaker-xgboost-container (3.0-5) sets it
up: the hosts of ``SM_HOSTS`` sorted, the first runs ``xgboost.tracker.RabitTracker`` on port
9099, and every host joins through ``xgboost.collective.CommunicatorContext`` with its position as
``dmlc_task_id``. Each host reads the part files of the training split SageMaker delivered to it
(``ShardedByS3Key``); the category levels, the classes and the row counts are agreed over the
collective first, so every host encodes the same columns, and histogram training then sums the
hosts' gradient statistics. The first host alone writes the model and the predictions: SageMaker
aggregates every host's model folder into one archive, whose names must not clash
(https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-output.html).
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import xgboost
from xgboost import collective

try:
    from . import inference as serving
    from . import tabular_training as base
except ImportError:
    # Run as a script (SageMaker, the local runtime): the source directory is sys.path[0].
    import inference as serving  # type: ignore[no-redef]
    import tabular_training as base  # type: ignore[no-redef]

CONFIG_FILE_NAME = base.CONFIG_FILE_NAME
SHARED_SERVING_FILE_NAME = "tabular_serving.py"
INFERENCE_FILE_NAME = "inference.py"
CODE_DIR_NAME = "code"

# distributed.py: Rabit(port=None) -> 9099, the tracker's port on the first host.
TRACKER_PORT = 9099
# How long a host keeps trying to reach the tracker (the first host may start later):
# dmlc_retry attempts, each waiting up to dmlc_timeout seconds. distributed.py connects with a
# raw probe first; later releases of the container removed it (commit aee9be3, "remove raw TCP
# probe that corrupts XGBoost 3.2.0 tracker protocol") and rely on these retries alone.
TRACKER_CONNECT_ATTEMPTS = 30
TRACKER_TIMEOUT_SECONDS = 30
HOST_RESOLUTION_ATTEMPTS = 60
HOST_RESOLUTION_WAIT_SECONDS = 1.0

HYPERPARAMETER_TYPES: dict[str, type] = {
    "num_round": int,
    "eta": float,
    "max_depth": int,
    "min_child_weight": float,
    "subsample": float,
    "colsample_bytree": float,
    "lambda": float,
    "alpha": float,
    "gamma": float,
    "max_bin": int,
    "seed": int,
    "tree_method": str,
}
HYPERPARAMETER_DEFAULTS: dict[str, Any] = {
    "num_round": 200,
    "eta": 0.1,
    "max_depth": 6,
    "min_child_weight": 1.0,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "lambda": 1.0,
    "alpha": 0.0,
    "gamma": 0.0,
    "max_bin": 256,
    "seed": 0,
    "tree_method": "hist",
}
POSITIVE_HYPERPARAMETERS = frozenset({"num_round", "eta", "max_depth", "max_bin"})
FRACTION_HYPERPARAMETERS = frozenset({"subsample", "colsample_bytree"})
# Distributed training sums per-host histograms: only the histogram methods take part.
TREE_METHODS = ("hist", "approx")
OBJECTIVES = {"binary": "binary:logistic", "multiclass": "multi:softprob", "regression": "reg:squarederror"}
# Categories beyond this many per column are dropped (most frequent first), as the scikit-learn
# trainer pools them, instead of widening the matrix.
MAX_CATEGORIES_PER_FEATURE = base.MAX_CATEGORIES_PER_FEATURE


class DistributedSetupError(base.TrainingError):
    """The hosts could not form the collective (a host that does not resolve, no tracker)."""


# --- hyperparameters --------------------------------------------------------------------


def parse_hyperparameters(argv: list[str], hyperparameters_json: str) -> dict[str, Any]:
    """Defaults, overridden by SM_HPS, overridden by the command line; typed and checked."""
    supplied = base._supplied_hyperparameters(argv, hyperparameters_json)
    supplied = {name: value for name, value in supplied.items() if name not in base.DATASET_HYPERPARAMETERS}
    unknown = sorted(set(supplied) - set(HYPERPARAMETER_TYPES))
    if unknown:
        raise base.HyperparameterError(
            f"unknown hyperparameter(s) {', '.join(map(repr, unknown))}; known: {', '.join(HYPERPARAMETER_TYPES)}"
        )
    hyperparameters = dict(HYPERPARAMETER_DEFAULTS)
    for name, raw in supplied.items():
        kind = HYPERPARAMETER_TYPES[name]
        try:
            number = float(raw) if kind is not str else None
        except (TypeError, ValueError):
            raise base.HyperparameterError(f"hyperparameter {name} must be a number, got {raw!r}") from None
        if kind is int:
            if number is None or not number.is_integer():
                raise base.HyperparameterError(f"hyperparameter {name} must be an integer, got {raw!r}")
            value: Any = int(number)
        elif kind is float:
            value = number
        else:
            value = str(raw).strip()
        if name in POSITIVE_HYPERPARAMETERS and not value > 0:
            raise base.HyperparameterError(f"hyperparameter {name} must be positive, got {raw!r}")
        if name in FRACTION_HYPERPARAMETERS and not 0 < value <= 1:
            raise base.HyperparameterError(f"hyperparameter {name} must be in (0, 1], got {raw!r}")
        hyperparameters[name] = value
    if hyperparameters["tree_method"] not in TREE_METHODS:
        raise base.HyperparameterError(
            f"tree_method {hyperparameters['tree_method']!r} is not one of {', '.join(TREE_METHODS)}"
        )
    return hyperparameters


def booster_parameters(hyperparameters: dict[str, Any], spec: base.DatasetSpec, classes: list[str] | None) -> dict[str, Any]:
    parameters = {name: value for name, value in hyperparameters.items() if name != "num_round"}
    parameters["objective"] = OBJECTIVES[spec.problem_type]
    if spec.problem_type == "multiclass":
        parameters["num_class"] = len(classes or [])
    return parameters


# --- the hosts --------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    hosts: list[str]
    current_host: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Cluster:
        """SM_HOSTS and SM_CURRENT_HOST, which SageMaker sets from resourceconfig.json."""
        hosts = sorted(json.loads(environ.get("SM_HOSTS") or '["algo-1"]'))
        current = environ.get("SM_CURRENT_HOST") or hosts[0]
        if current not in hosts:
            raise DistributedSetupError(f"SM_CURRENT_HOST {current!r} is not one of SM_HOSTS {hosts}")
        return cls(hosts, current)

    @property
    def rank(self) -> int:
        return self.hosts.index(self.current_host)

    @property
    def is_first(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return len(self.hosts) > 1


def _resolve(host: str) -> str:
    """SageMaker's host names resolve once the instances are up (distributed.py retries too)."""
    for _ in range(HOST_RESOLUTION_ATTEMPTS):
        try:
            return socket.gethostbyname(host)
        except OSError:
            time.sleep(HOST_RESOLUTION_WAIT_SECONDS)
    raise DistributedSetupError(f"host {host!r} of SM_HOSTS does not resolve")


class Collective:
    """The hosts joined in XGBoost's collective for the `with` block; nothing for one host."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._tracker: Any = None
        self._context: Any = None

    def __enter__(self) -> Collective:
        if not self.cluster.distributed:
            return self
        tracker_address = _resolve(self.cluster.hosts[0])
        if self.cluster.is_first:
            from xgboost.tracker import RabitTracker

            self._tracker = RabitTracker(
                n_workers=len(self.cluster.hosts), host_ip=tracker_address, port=TRACKER_PORT, sortby="task"
            )
            self._tracker.start()
        arguments = {
            "dmlc_tracker_uri": tracker_address,
            "dmlc_tracker_port": TRACKER_PORT,
            "dmlc_task_id": str(self.cluster.rank),
            "dmlc_retry": TRACKER_CONNECT_ATTEMPTS,
            "dmlc_timeout": TRACKER_TIMEOUT_SECONDS,
        }
        try:
            self._context = collective.CommunicatorContext(**arguments)
            self._context.__enter__()
        except Exception as error:
            self._free_tracker()
            raise DistributedSetupError(
                f"host {self.cluster.current_host} could not join the tracker on {self.cluster.hosts[0]} "
                f"({tracker_address}:{TRACKER_PORT}): {error}"
            ) from error
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._context is not None:
            self._context.__exit__(*exc_info)
            self._context = None
        if self._tracker is not None:
            self._tracker.wait_for()
        self._free_tracker()

    def _free_tracker(self) -> None:
        if self._tracker is not None:
            self._tracker.free()
            self._tracker = None

    def gather(self, value: Any) -> list[Any]:
        """Every host's `value` (JSON), in host order; distributed.py's RabitHelper.synchronize."""
        if not self.cluster.distributed:
            return [value]
        text = json.dumps(value)
        return [
            json.loads(str(collective.broadcast(text if rank == self.cluster.rank else "", rank)))
            for rank in range(len(self.cluster.hosts))
        ]


# --- data -------------------------------------------------------------------------------


def channel_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.rglob("*.csv") if path.is_file())


def read_shard(environment: base.TrainingEnvironment, spec: base.DatasetSpec) -> pd.DataFrame:
    """Every part file of the training split delivered to this host, one frame, each file read as
    the scikit-learn trainer reads a channel's file."""
    directory = environment.channel_dirs[base.TRAIN_CHANNEL]
    files = channel_files(directory)
    if not files:
        raise base.ChannelMissingError(f"{base.TRAIN_CHANNEL} channel has no CSV file in {directory}")
    frames = []
    with tempfile.TemporaryDirectory() as staging:
        for path in files:
            # base.read_channel reads a folder's data.csv; a link gives it each part file in turn.
            single = Path(staging) / str(len(frames))
            single.mkdir()
            (single / base.SPLIT_FILE_NAME).symlink_to(path.resolve())
            frames.append(base.read_channel(base.TRAIN_CHANNEL, single, spec, require_target=True))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def category_counts(frame: pd.DataFrame, features: list[str]) -> dict[str, dict[str, int]]:
    return {name: {str(k): int(v) for k, v in frame[name].dropna().value_counts().items()} for name in features}


def merge_counts(per_host: list[dict[str, dict[str, int]]]) -> dict[str, Counter[str]]:
    merged: dict[str, Counter[str]] = {}
    for counts in per_host:
        for name, values in counts.items():
            merged.setdefault(name, Counter()).update(values)
    return merged


def category_levels(merged: dict[str, Counter[str]]) -> dict[str, list[str]]:
    """The most frequent levels of each column over all hosts, in a fixed order."""
    levels = {}
    for name, counts in merged.items():
        kept = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_CATEGORIES_PER_FEATURE]
        levels[name] = sorted(value for value, _ in kept)
    return levels


# --- the run ----------------------------------------------------------------------------


def _matrix(model: serving.XGBoostModel, frame: pd.DataFrame, labels: np.ndarray | None, spec: base.DatasetSpec) -> xgboost.DMatrix:
    encoded = model.encoder.encode(serving.prepare_features(frame, spec.features, f"{base.TRAIN_CHANNEL} channel"))
    label = None
    if labels is not None:
        if spec.is_classification:
            positions = {value: index for index, value in enumerate(model.classes_)}
            label = np.asarray([positions[value] for value in labels], dtype=np.float32)
        else:
            label = labels.astype(np.float32)
    return xgboost.DMatrix(encoded, label=label, feature_names=model.encoder.column_names)


def fit(
    shard: pd.DataFrame, spec: base.DatasetSpec, hyperparameters: dict[str, Any], group: Collective
) -> tuple[serving.XGBoostModel, int]:
    """One model over every host's shard; returns it with the training rows of all hosts."""
    labels = base.target_values(shard, spec, base.TRAIN_CHANNEL)
    categorical = serving.categorical_feature_names(spec.features)
    prepared = serving.prepare_features(shard, spec.features, f"{base.TRAIN_CHANNEL} channel")
    summary = {
        "rows": len(shard),
        "categories": category_counts(prepared, categorical),
        "classes": sorted(set(labels)) if spec.is_classification else [],
    }
    hosts = group.gather(summary)
    levels = category_levels(merge_counts([host["categories"] for host in hosts]))
    classes = sorted({label for host in hosts for label in host["classes"]}) if spec.is_classification else None
    if classes is not None:
        base.check_classes(np.asarray(classes, dtype=object), spec)
    encoder = serving.FeatureEncoder(spec.features, levels)
    model = serving.XGBoostModel(xgboost.Booster(), encoder, spec.problem_type, classes)
    matrix = _matrix(model, shard, labels, spec)
    model.booster = xgboost.train(
        booster_parameters(hyperparameters, spec, classes), matrix, num_boost_round=hyperparameters["num_round"]
    )
    return model, sum(host["rows"] for host in hosts)


def write_model_artifact(model_dir: Path, model: serving.XGBoostModel, metadata: dict[str, Any], source_dir: Path) -> None:
    code_dir = model_dir / CODE_DIR_NAME
    code_dir.mkdir(parents=True, exist_ok=True)
    model.booster.save_model(str(model_dir / serving.MODEL_FILE_NAME))
    (model_dir / serving.METADATA_FILE_NAME).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    for name in (INFERENCE_FILE_NAME, SHARED_SERVING_FILE_NAME, CONFIG_FILE_NAME):
        (code_dir / name).write_bytes((source_dir / name).read_bytes())


def _load_champion(directory: Path) -> base.Champion | None:
    """The serving version from its model.tar.gz in the champion channel (an XGBoost artifact)."""
    import tarfile

    if not directory.is_dir():
        return None
    archives = sorted(directory.rglob(base.MODEL_ARCHIVE_NAME))
    if not archives:
        return None
    wanted = {serving.MODEL_FILE_NAME, serving.METADATA_FILE_NAME}
    try:
        with tarfile.open(archives[0], mode="r:gz") as archive, tempfile.TemporaryDirectory() as unpacked:
            members = {member.name.removeprefix("./"): member for member in archive.getmembers() if member.isfile()}
            if not wanted <= set(members):
                raise base.ChampionUnreadableError(
                    f"the champion's {base.MODEL_ARCHIVE_NAME} lacks {serving.MODEL_FILE_NAME} or {serving.METADATA_FILE_NAME}"
                    " (a model of another framework?)"
                )
            for name in wanted:
                (Path(unpacked) / name).write_bytes(archive.extractfile(members[name]).read())  # type: ignore[union-attr]
            model, metadata = serving.load_model(Path(unpacked))
    except (tarfile.TarError, OSError, ValueError, xgboost.core.XGBoostError) as error:
        raise base.ChampionUnreadableError(f"the champion's {base.MODEL_ARCHIVE_NAME} cannot be loaded: {error}") from error
    return base.Champion(pipeline=model, features=metadata["features"], problem_type=metadata["problem_type"])


def train(argv: list[str], environment: base.TrainingEnvironment, cluster: Cluster) -> dict[str, Any] | None:
    source_dir = Path(__file__).resolve().parent
    spec = base.load_dataset_spec(source_dir / CONFIG_FILE_NAME)
    hyperparameters = parse_hyperparameters(argv, environment.hyperparameters_json)
    base.check_dataset_hyperparameters(argv, environment.hyperparameters_json, spec)
    for name in (INFERENCE_FILE_NAME, SHARED_SERVING_FILE_NAME):
        if not (source_dir / name).is_file():
            raise base.ConfigInvalidError(f"{name} not found beside the training script ({source_dir})")
    shard = read_shard(environment, spec)
    with Collective(cluster) as group:
        model, training_rows = fit(shard, spec, hyperparameters, group)
    if not cluster.is_first:
        print(f"host {cluster.current_host}: trained with {len(cluster.hosts)} hosts; {cluster.hosts[0]} writes the model", flush=True)
        return None
    # The champion's artifact is read by this bundle's serving module (_load_champion, installed
    # as base.load_champion by main);
    # the reference holdout excludes this host's training rows.
    metrics, validation_rows, test_rows, comparison = base.evaluate_and_write(environment, spec, model, shard)
    classes = [str(label) for label in model.classes_] if spec.is_classification else None
    metadata = {
        "problem_type": spec.problem_type,
        "target": spec.target,
        "features": spec.features,
        "numeric_features": model.encoder.numeric,
        "categorical_features": model.encoder.categorical,
        "categories": model.encoder.categories,
        "classes": classes,
        "positive_class": classes[1] if spec.problem_type == "binary" and classes else None,
        "estimator": "XGBoost",
        "framework": "xgboost",
        "hyperparameters": hyperparameters,
        "validation_metrics": metrics,
        "training_rows": training_rows,
        "training_hosts": len(cluster.hosts),
        "validation_rows": validation_rows,
        "test_rows": test_rows,
        **comparison,
        "training_job_name": os.environ.get("TRAINING_JOB_NAME"),
        "xgboost_version": xgboost.__version__,
        "pandas_version": pd.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
    }
    write_model_artifact(environment.model_dir, model, metadata, source_dir)
    return metadata


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    environment = base.TrainingEnvironment.from_environ(os.environ)
    # The scikit-learn trainer's champion comparison loads the champion through this hook.
    base.load_champion = _load_champion
    try:
        cluster = Cluster.from_environ(os.environ)
        metadata = train(arguments, environment, cluster)
    except (base.TrainingError, serving.InvalidRequestError) as error:
        return base._fail(environment.output_dir, str(error), base.EXIT_CODE_DATA_ERROR)
    except Exception as error:  # noqa: BLE001 - whatever breaks, SageMaker must get a reason
        traceback.print_exc()
        return base._fail(
            environment.output_dir, f"unexpected training error: {type(error).__name__}: {error}", base.EXIT_CODE_UNEXPECTED_ERROR
        )
    if metadata is not None:
        summary = {key: metadata[key] for key in ("problem_type", "estimator", "training_rows", "training_hosts", "validation_metrics")}
        print(f"training complete: {json.dumps(summary)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
