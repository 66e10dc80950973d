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
