"""Server CPU per turn of a real ``tactful serve`` worker (uvicorn, SQLite, offline engine, default durability),
as the capacity bench counts it: the worker's process CPU (all threads, from ``/proc``) over the turns it
answered. One client posts the load bench's messages (5 per conversation, a ``message_id`` each) to
``CONVERSATIONS`` conversations, ``CONCURRENCY`` at a time; medians of ``BLOCKS`` blocks.
``python scripts/serve_cpu.py [NAME] [--blocks 8] [--per 100]``"""

import argparse
import asyncio
import tempfile
from pathlib import Path

import httpx

from tactful.bench.common import process_cpu_s
from tactful.bench.economy import LONG_CONVERSATION
from tactful.bench.serve import service

TURNS_PER_CONVERSATION = 5
CONCURRENCY = 4


async def drive(base: str, start: int, n: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def one(worker: int) -> None:
            for k in range(worker, n, CONCURRENCY):
                i = start + k
                conv = f"c{i // TURNS_PER_CONVERSATION}"
                text = LONG_CONVERSATION[i % len(LONG_CONVERSATION)]
                r = await client.post(f"/v1/conversations/{conv}/messages", json={"text": text, "message_id": f"m{i}"})
                assert r.status_code == 200, r.text

        await asyncio.gather(*(one(w) for w in range(CONCURRENCY)))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("name", nargs="?", default="run")
    p.add_argument("--blocks", type=int, default=8)
    p.add_argument("--per", type=int, default=100)
    args = p.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        service(None, Path(tmp), Path(tmp) / "serve.log", database_url=None, schema=None) as (url, proc),
    ):
        asyncio.run(drive(url, 0, 40))  # warm-up: first turns load the tokenizer and fill caches
        blocks = []
        for b in range(args.blocks):
            c0 = process_cpu_s(proc.pid) or 0.0
            asyncio.run(drive(url, 1000 + b * args.per, args.per))
            blocks.append(((process_cpu_s(proc.pid) or 0.0) - c0) / args.per * 1e3)
    med = sorted(blocks)[len(blocks) // 2]
    print(f"{args.name}: serve CPU ms/turn median {med:.2f} (blocks {' '.join(f'{b:.1f}' for b in blocks)})")


main()
