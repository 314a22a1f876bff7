# ruff: noqa: E501, E731  (a measuring script: imports placed where they are timed)
"""Support turn vs bare graph, same SQLite checkpointer (product pragmas) and durability: CPU ms per turn
(process CPU time, all threads) and wall ms, medians of interleaved blocks."""

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from langgraph.store.sqlite.aio import AsyncSqliteStore

from tactful.bench import overhead as o
from tactful.graphs.context import build_context
from tactful.graphs.runner import SupportRunner
from tactful.graphs.support import compile_support_graph
from tactful.settings import Settings

BLOCKS, PER = 8, 40


async def main():
    ctx = build_context(Settings(engine="offline"))
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            o._saver(Path(tmp) / "s.db") as cp_a,
            AsyncSqliteStore.from_conn_string(str(Path(tmp) / "s.db")) as st,
            o._saver(Path(tmp) / "b.db") as cp_b,
        ):
            await st.setup()
            await st.conn.execute("PRAGMA synchronous=NORMAL")
            runner = SupportRunner(compile_support_graph(cp_a, store=st), lambda t: ctx)
            bare = o.bare_graph().compile(checkpointer=cp_b)
            gen = {}

            async def s(i):
                k = i // 20
                r = await runner.turn(f"c{k}.{gen.get(k, 0)}", o.MESSAGES[i % 8])
                if r.mode == "human":
                    gen[k] = gen.get(k, 0) + 1

            async def b(i):
                msg = {"role": "user", "text": o.MESSAGES[i % 8], "turn": 0, "at": ""}
                await bare.ainvoke(
                    {"messages": [msg]},
                    {"configurable": {"thread_id": f"c{i // 20}"}},
                    durability=ctx.settings.durability,
                )

            for i in range(20):
                await s(i)
                await b(i)
            sc, bc, sw, bw = [], [], [], []
            for blk in range(BLOCKS):
                for fn, cpu, wall in ((s, sc, sw), (b, bc, bw)):
                    c0, w0 = time.process_time(), time.perf_counter()
                    for i in range(PER):
                        await fn(1000 + blk * PER + i)
                    cpu.append((time.process_time() - c0) / PER * 1e3)
                    wall.append((time.perf_counter() - w0) / PER * 1e3)
            med = lambda v: sorted(v)[len(v) // 2]
            print(
                f"{sys.argv[1]}: CPU ms/turn support {med(sc):.2f} bare {med(bc):.2f} ratio {med(sc) / med(bc):.2f} | wall support {med(sw):.1f} bare {med(bw):.1f} ratio {med(sw) / med(bw):.2f}"
            )


asyncio.run(main())
