"""read_ahead yields every chunk in order, raises what the reader raises where the chunk would
be, and stops its reading thread when the caller stops early."""

from __future__ import annotations

import threading

import pytest

from functions.validate_data.read_ahead import read_ahead


def test_yields_every_item_in_order() -> None:
    assert list(read_ahead(iter(range(1000)))) == list(range(1000))
    assert list(read_ahead(iter([]))) == []


def test_raises_the_readers_error_after_the_items_before_it() -> None:
    def failing():
        yield 1
        yield 2
        raise ValueError("block 3 is unreadable")

    seen = []
    with pytest.raises(ValueError, match="block 3"):
        for item in read_ahead(failing()):
            seen.append(item)
    assert seen == [1, 2]


def test_stops_reading_and_closes_the_reader_when_abandoned() -> None:
    closed = threading.Event()
    produced = []

    def endless():
        try:
            number = 0
            while True:
                produced.append(number)
                yield number
                number += 1
        finally:
            closed.set()

    items = read_ahead(endless(), depth=1)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert closed.is_set()
    # At most `depth` items past the last one taken, plus the one being read.
    assert len(produced) <= 3 + 2
    assert not any(thread.name == "read-ahead" for thread in threading.enumerate())


def test_a_scan_stopped_by_a_chunk_stops_the_reading_thread(tmp_path, monkeypatch) -> None:
    """An error raised while checking a chunk (not while reading it) ends the reading thread
    at once, even while the error's traceback (which holds the scan's frame) is kept."""
    import numpy as np
    import pandas as pd

    from functions.common.config import ColumnSchema, DatasetSchema, GateConfig, PipelineConfig, ValidationConfig
    from functions.validate_data import validation

    path = tmp_path / "upload.csv"
    rows = 50_000
    rng = np.random.default_rng(3)
    pd.DataFrame({"x": rng.random(rows), "target": rng.choice(["a", "b"], rows)}).to_csv(path, index=False)
    config = PipelineConfig(
        dataset=DatasetSchema(
            target="target",
            problem_type="binary",
            columns=[ColumnSchema(name="x", type="float"), ColumnSchema(name="target", type="category")],
        ),
        gates=GateConfig(primary_metric="roc_auc"),
        validation=ValidationConfig(chunk_rows=1_000),
    )

    def fail_on_second_chunk(self, chunk):
        if self.rows:
            raise RuntimeError("checking failed")
        self.rows += len(chunk)

    monkeypatch.setattr(validation._Scan, "_scan_chunk", fail_on_second_chunk)
    with pytest.raises(RuntimeError) as raised:
        validation.validate_file(path, config)
    assert raised.traceback
    assert not any(thread.name == "read-ahead" for thread in threading.enumerate())
