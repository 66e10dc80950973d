"""The training split as several part files, when the training job trains across instances.

A training job of n instances reads its train channel with ShardedByS3Key, which gives each
instance about 1/n of the channel's objects: one curated file would reach one instance and leave
the others without data. So when the config trains one XGBoost model on n instances, the train
split is also written as n part files (``train/part-00000.csv`` ...), each with the header, the
rows dealt out in turn; the validation and test splits, which every instance reads whole, stay
one file. With one instance nothing changes: ``train/data.csv`` as before, byte for byte.
"""

from __future__ import annotations

import csv
from pathlib import Path

from functions.common import s3_layout
from functions.common.config import DISTRIBUTED_FRAMEWORKS, PipelineConfig

TRAIN_SPLIT = "train"
# The name of a part in ValidationOutcome.split_files: "train.part-00000" for part 0.
PART_NAME_SEPARATOR = ".part-"
PART_DIGITS = 5
PART_FILE_SUFFIX = ".csv"


def part_count(config: PipelineConfig) -> int:
    training = config.training
    if training.framework in DISTRIBUTED_FRAMEWORKS and training.instance_count > 1:
        return training.instance_count
    return 1


def part_name(part: int) -> str:
    return f"{TRAIN_SPLIT}{PART_NAME_SEPARATOR}{part:0{PART_DIGITS}d}"


def part_names(split_files: dict[str, Path]) -> list[str]:
    return sorted(name for name in split_files if name.startswith(TRAIN_SPLIT + PART_NAME_SEPARATOR))


def part_key(dataset_version: str, name: str) -> str:
    """curated/<version>/train/part-00000.csv for the part named `name`."""
    part = name.removeprefix(TRAIN_SPLIT + ".")
    return f"{s3_layout.curated_prefix(dataset_version)}{TRAIN_SPLIT}/{part}{PART_FILE_SUFFIX}"


def write_train_parts(train_file: Path, parts: int) -> dict[str, Path]:
    """The part files of `train_file` beside it, by part name; nothing when `parts` is 1. The
    rows are read as CSV records (a quoted value may hold a line break) and written as the split
    writer writes them (csv.writer, "\\n" line ends)."""
    if parts <= 1:
        return {}
    paths = {part_name(part): train_file.with_name(f"{TRAIN_SPLIT}-{part_name(part)}{PART_FILE_SUFFIX}") for part in range(parts)}
    streams = [path.open("w", encoding="utf-8", newline="") for path in paths.values()]
    try:
        writers = [csv.writer(stream, lineterminator="\n") for stream in streams]
        with train_file.open(encoding="utf-8", newline="") as source:
            reader = csv.reader(source)
            header = next(reader)
            for writer in writers:
                writer.writerow(header)
            for position, row in enumerate(reader):
                writers[position % parts].writerow(row)
    finally:
        for stream in streams:
            stream.close()
    return paths
