"""Polling a condition in tests, bounded in time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any


async def until(predicate: Callable[[], bool], timeout_s: float) -> None:
    """Return once `predicate()` is true; raise TimeoutError after `timeout_s` seconds."""
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110  (state owned by other tasks: polling is simplest)
            await asyncio.sleep(0.01)


async def run_until(
    job: Coroutine[Any, Any, None], predicate: Callable[[], bool], timeout_s: float
) -> None:
    """Run `job` as a task until `predicate()` holds, then cancel it and wait for it."""
    task = asyncio.create_task(job)
    try:
        await until(predicate, timeout_s)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
