"""Pilot tests written as coroutines, run by plain pytest (no asyncio plugin)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any


def sync(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """``fn`` as a test function that runs it to the end in a new event loop."""
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))
    return run
