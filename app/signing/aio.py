"""pyHanko is asynchronous underneath; its synchronous helpers call ``asyncio.run``, which fails
in a thread that already runs an event loop (a test process driving a browser does). ``run``
runs a coroutine to its end either way: directly, or in a worker thread of its own."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def run(make_coroutine: Callable[[], Awaitable[T]]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coroutine())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()
