"""Where sweeps and batches run: local worker processes, or an executor the caller gives."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any


def executor_of(given: Any) -> Executor | None:
    """Return a :class:`concurrent.futures.Executor` for ``given`` (None: local processes).

    A Dask ``distributed.Client`` is taken for its own executor
    (``Client.get_executor()``), so its futures work with
    :func:`concurrent.futures.wait` and ``as_completed``.
    """
    if given is not None and hasattr(given, "get_executor"):
        executor: Executor = given.get_executor()
        return executor
    return given
