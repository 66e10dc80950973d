"""Reading the next chunk of a table while the current one is checked.

Arrow's streaming CSV reader parses a block only when asked for it, on the asking thread, so
reading and checking took turns on one core. `read_ahead` asks for the next chunk on a thread
of its own (Arrow releases the GIL while it parses), holding at most `depth` chunks ahead, so
memory stays bounded by the chunk size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

Item = TypeVar("Item")

# How long the reading thread waits for room before checking whether the reader was abandoned.
PUT_POLL_SECONDS = 0.1
_END = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterator[Item], depth: int = 1) -> Iterator[Item]:
    """Yield `items` in order, each produced on a reading thread while the caller works on the
    previous one; an exception raised by `items` is raised here, where the item would be."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    abandoned = threading.Event()

    def put(item: object) -> bool:
        while not abandoned.is_set():
            try:
                ready.put(item, timeout=PUT_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as error:  # handed to the consumer, which raises it
            put(_Failure(error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        abandoned.set()
        reader.join()
