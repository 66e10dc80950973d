"""Per-column work spread over the CPUs this process may use.

Columns do not depend on each other, and most of a column's work (Arrow casts and hashes,
NumPy sorts and comparisons) runs with the GIL released, so two idle CPUs take little more than
half the time of one. A Lambda function of more than 1,769 MB has two or more vCPUs
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html). The results are
returned in the items' order: those of one thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def each_column(work: Callable[[Item], Result], items: list[Item]) -> list[Result]:
    """`work` of each item, in the items' order, on up to one thread per usable CPU."""
    workers = min(len(items), usable_cpus())
    if workers <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(work, items))


def usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
