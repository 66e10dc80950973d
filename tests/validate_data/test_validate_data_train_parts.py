"""The training split in part files for a distributed training job: one part per instance, each
with the header, every row in exactly one part; one instance keeps the single file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from functions.common.config import PipelineConfig
from functions.validate_data import shards

REPOSITORY_CONFIG = Path(__file__).resolve().parents[2] / "pipeline.json"


def config_with(**training: object) -> PipelineConfig:
    document = json.loads(REPOSITORY_CONFIG.read_text())
    document["training"] = training
    return PipelineConfig.model_validate(document)


def test_parts_are_written_only_for_xgboost_on_several_instances() -> None:
    assert shards.part_count(config_with()) == 1
    assert shards.part_count(config_with(framework="xgboost")) == 1
    assert shards.part_count(config_with(framework="xgboost", instance_count=3)) == 3


def test_every_row_lands_in_one_part_with_the_header(tmp_path: Path) -> None:
    # Given a train split whose quoted label holds a comma and a line break
    train = tmp_path / "train.csv"
    rows = [["a", "label"], *[[str(number), "x" if number % 2 else 'multi\nline, "quoted"'] for number in range(7)]]
    with train.open("w", encoding="utf-8", newline="") as stream:
        csv.writer(stream, lineterminator="\n").writerows(rows)

    # When it is written in three parts
    parts = shards.write_train_parts(train, 3)

    # Then each part has the header, the rows are dealt out in turn, and none is lost or split
    assert list(parts) == ["train.part-00000", "train.part-00001", "train.part-00002"]
    read = {name: list(csv.reader(path.open(encoding="utf-8", newline=""))) for name, path in parts.items()}
    assert all(part[0] == rows[0] for part in read.values())
    assert [len(part) - 1 for part in read.values()] == [3, 2, 2]
    assert sorted(row for part in read.values() for row in part[1:]) == sorted(rows[1:])
    assert shards.part_names({"train": train, **parts, "test": train}) == list(parts)
    assert shards.part_key("v1", "train.part-00002") == "curated/v1/train/part-00002.csv"


def test_one_instance_writes_no_parts(tmp_path: Path) -> None:
    train = tmp_path / "train.csv"
    train.write_text("a,label\n1,x\n", encoding="utf-8")
    assert shards.write_train_parts(train, 1) == {}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["train.csv"]
