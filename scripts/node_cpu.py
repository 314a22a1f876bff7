# ruff: noqa: E731  (a measuring script)
"""Where a support turn's CPU goes: each node's own CPU (``time.thread_time`` of the event loop's thread, inside
``build_support_graph(wrap=...)``) and the whole process's CPU per turn, over N turns of ``runner.turn`` on the
overhead section's SQLite checkpointer and store. ``python scripts/node_cpu.py [N] [--unique]``: with
``--unique`` every turn's message is made its own text (the turn's number appended), so nothing remembered from
another conversation's identical message helps — a live worker's customers rarely type the same words."""

import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tactful.bench import overhead as o
from tactful.graphs.context import build_context
from tactful.graphs.runner import SupportRunner
from tactful.graphs.sqlite_saver import OneTripSqliteStore
from tactful.graphs.support import build_support_graph
from tactful.settings import Settings

spent: Counter[str] = Counter()


def wrap(name, node):
    async def timed(state, runtime):
        t = time.thread_time()
        try:
            return await node(state, runtime)
        finally:
            spent[name] += time.thread_time() - t

    timed.__name__ = name
    return timed


async def main(n: int) -> None:
    ctx = build_context(Settings(engine="offline"))
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            o._saver(Path(tmp) / "s.db") as cp,
            OneTripSqliteStore.from_conn_string(str(Path(tmp) / "s.db")) as st,
        ):
            await st.setup()
            await st.conn.execute("PRAGMA synchronous=NORMAL")
            runner = SupportRunner(build_support_graph(wrap=wrap).compile(checkpointer=cp, store=st), lambda t: ctx)
            gen: dict[int, int] = {}

            async def turn(i: int) -> None:
                k = i // 20
                text = o.MESSAGES[i % 8] + (f" (message {i})" if UNIQUE else "")
                r = await runner.turn(f"c{k}.{gen.get(k, 0)}", text)
                if r.mode == "human":
                    gen[k] = gen.get(k, 0) + 1

            for i in range(20):
                await turn(i)
            spent.clear()
            c0 = time.process_time()
            for i in range(n):
                await turn(100 + i)
            per = lambda s: f"{1e3 * s / n:.2f}"
            print(f"process CPU {per(time.process_time() - c0)} ms/turn; nodes {per(sum(spent.values()))}:",
                  ", ".join(f"{k} {per(v)}" for k, v in spent.most_common()))


UNIQUE = "--unique" in sys.argv
args = [a for a in sys.argv[1:] if a != "--unique"]
asyncio.run(main(int(args[0]) if args else 300))
