"""Slack wants an answer within 3 seconds. Work that might take longer (a rate-limited post, a
slow database) runs on a worker; if it is not done within the budget, the listener answers
Slack first ("working on it") and delivers the result when it is ready."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Generic, TypeVar

T = TypeVar("T")
_WORKERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="accord-work")


class Pending(Generic[T]):
    """Work that outlived the ack budget; `result()` waits for it."""

    def __init__(self, future: Future[T]) -> None:
        self._future = future

    def result(self) -> T:
        return self._future.result()


def within_budget(work: Callable[[], T], *, seconds: float) -> T | Pending[T]:
    """The work's result if it finishes within `seconds`, else a `Pending` to wait on later.

    `work` must not raise (wrap it with `guard.attempt`); it keeps running either way.
    """
    future = _WORKERS.submit(work)
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        return Pending(future)
