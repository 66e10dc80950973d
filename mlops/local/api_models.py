"""botocore's API models, read once per process by every session the local cloud makes.

A botocore session reads the JSON model of each service it makes a client for (SageMaker's is
megabytes), and moto gives each mock a new default session: every local cloud's deployment,
every client of a test and every function's first client read the same files again, about a
tenth of an end-to-end run's CPU. The files do not change while a process runs, and a session
already hands the one loaded model to all of its clients, so sessions sharing a loader see
what each would have read for itself."""

from __future__ import annotations

import functools

from botocore import loaders


@functools.lru_cache(maxsize=None)
def shared_loader(search_path_string: str | None = None) -> loaders.Loader:
    """`botocore.loaders.create_loader`, one loader per search path for the process."""
    return loaders.create_loader(search_path_string)
