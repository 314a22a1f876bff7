"""Specialist work on short text runs inline (a thread hop costs more than the work); long text goes to the pool."""

from __future__ import annotations

import threading

from tactful.agents.engine.offload import INLINE_MAX_CHARS, off_loop_if_long


def _thread() -> str:
    return threading.current_thread().name


async def test_short_text_runs_on_the_loop_thread_long_text_in_the_pool() -> None:
    here = _thread()
    assert await off_loop_if_long(INLINE_MAX_CHARS, _thread) == here
    assert (await off_loop_if_long(INLINE_MAX_CHARS + 1, _thread)).startswith("tactful-cpu")
