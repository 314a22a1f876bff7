"""Run CPU-bound specialist work (intent model, sentiment lexicon, guards, extractive summaries) off the event loop.

A turn's deterministic specialists are pure Python and can cost seconds on a pathological message; run inline they
would hold the event loop and stall every other request of the worker (``/healthz`` included). Here they run in one
bounded thread pool shared by the process: at most ``CPU_WORKERS`` of them at once, the rest queue, and the event
loop keeps serving meanwhile (the interpreter hands the GIL back to it every few milliseconds).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

CPU_WORKERS = max(2, min(8, os.cpu_count() or 2))

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def cpu_pool() -> ThreadPoolExecutor:
    """The process's bounded pool for specialist CPU work (created on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=CPU_WORKERS, thread_name_prefix="tactful-cpu")
        return _pool


def _forget_pool_in_child() -> None:
    """A forked child (the eval runner's worker processes) inherits the pool object but none of its threads: work
    submitted to it would wait forever. The child starts a pool of its own on first use."""
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


INLINE_MAX_CHARS = 600
"""Work on text up to this long runs inline on the loop (well under a millisecond for the offline specialists):
handing it to the pool costs more than the work — two thread switches and the GIL handed back and forth, ~0.5–1 ms
per call under load, several calls a turn. Longer text goes to the pool, where a pathological message can take
its time."""


async def off_loop_if_long(size: int, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)`` inline when ``size`` (the characters of text it works on) is small, else as
    :func:`off_loop`."""
    if size <= INLINE_MAX_CHARS:
        return fn(*args, **kwargs)
    return await off_loop(fn, *args, **kwargs)


async def off_loop(fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)`` in the CPU pool, with the caller's context variables; the loop stays free."""
    context = contextvars.copy_context()
    call = functools.partial(context.run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(cpu_pool(), call)
