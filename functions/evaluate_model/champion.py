"""The production model ("champion") side of the comparison, from the training job's output.

The training job received the serving version's artifact and the reference holdout as input
channels (functions/training/train.py) and wrote the champion's predictions on the same test
rows, and both models' predictions on the reference holdout with its labels. Nothing here calls
the live endpoint, so evaluation adds nothing to its metrics, alarms or data capture.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from dataclasses import dataclass

import numpy as np
import pandas as pd

from functions.common.contracts import ChampionReference
from functions.common.errors import ChampionUnavailableError

# functions/training/train.py writes these beside predictions.csv.
CHAMPION_PREDICTIONS_FILE_NAME = "champion_predictions.csv"
REFERENCE_PREDICTIONS_FILE_NAME = "reference_predictions.csv"
CHAMPION_REFERENCE_PREDICTIONS_FILE_NAME = "champion_reference_predictions.csv"
REFERENCE_LABELS_FILE_NAME = "reference_labels.csv"
LABEL_COLUMN = "label"


def label_of(champion: ChampionReference) -> str:
    if champion.model_version is not None:
        return f"the champion (version {champion.model_version})"
    return f"the champion ({champion.model_package_arn})"


def output_files(archive: bytes, output_uri: str) -> dict[str, bytes]:
    """The output data directory's own files (not nested ones), by name."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            files: dict[str, tuple[int, bytes]] = {}
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                name, depth = posixpath.basename(member.name), member.name.count("/")
                if name in files and files[name][0] <= depth:
                    continue
                extracted = tar.extractfile(member)
                files[name] = (depth, extracted.read() if extracted is not None else b"")
    except tarfile.TarError as error:
        raise ChampionUnavailableError(f"{output_uri} is not a readable tar archive") from error
    return {name: content for name, (_, content) in files.items()}


def required(files: dict[str, bytes], name: str, output_uri: str, champion: ChampionReference) -> bytes:
    if name not in files:
        raise ChampionUnavailableError(
            f"{output_uri} holds no {name}, so {label_of(champion)} cannot be compared: the training job did not "
            "score it (was the champion channel missing?)"
        )
    return files[name]


@dataclass(frozen=True)
class ReferenceHoldout:
    labels: np.ndarray
    challenger_csv: bytes
    champion_csv: bytes


def reference_holdout(files: dict[str, bytes], output_uri: str, champion: ChampionReference, classification: bool) -> ReferenceHoldout | None:
    if REFERENCE_LABELS_FILE_NAME not in files:
        return None
    try:
        labels = pd.read_csv(
            io.BytesIO(files[REFERENCE_LABELS_FILE_NAME]), dtype={LABEL_COLUMN: str} if classification else None
        )[LABEL_COLUMN].to_numpy()
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, KeyError) as error:
        raise ChampionUnavailableError(f"{REFERENCE_LABELS_FILE_NAME} in {output_uri} cannot be read") from error
    return ReferenceHoldout(
        labels=labels,
        challenger_csv=required(files, REFERENCE_PREDICTIONS_FILE_NAME, output_uri, champion),
        champion_csv=required(files, CHAMPION_REFERENCE_PREDICTIONS_FILE_NAME, output_uri, champion),
    )
