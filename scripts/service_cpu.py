# ruff: noqa: E501  (a measuring script)
"""Server CPU per turn of the HTTP service path, in one process: the app (FastAPI, middleware, auth, the turn
service, the store, the support graph on SQLite with the product's durability) driven through httpx's ASGI
transport the way the load bench's clients post messages (5 messages per conversation, a ``message_id`` each).
No socket or HTTP parsing (uvicorn's share is not counted). Prints the median process CPU ms per turn of
``BLOCKS`` blocks; ``--profile FILE`` writes a cProfile of the measured turns instead."""

import argparse
import asyncio
import cProfile
import tempfile
import time
from pathlib import Path

import httpx

from tactful.bench.economy import LONG_CONVERSATION
from tactful.service.app import create_app
from tactful.settings import Settings

TURNS_PER_CONVERSATION = 5


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(engine="offline", data_dir=Path(tmp), rate_limit_per_minute=0)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                sent = [0]

                async def turn(user: int) -> None:
                    n = sent[0]
                    sent[0] += 1
                    conv = f"c{user}-{n // TURNS_PER_CONVERSATION}"
                    text = LONG_CONVERSATION[n % len(LONG_CONVERSATION)]
                    r = await client.post(f"/v1/conversations/{conv}/messages", json={"text": text, "message_id": f"m{n}"})
                    assert r.status_code == 200, r.text

                for _ in range(20):
                    await turn(0)
                prof = cProfile.Profile() if args.profile else None
                blocks = []
                for _ in range(args.blocks):
                    c0 = time.process_time()
                    if prof:
                        prof.enable()
                    for _ in range(args.per):
                        await turn(0)
                    if prof:
                        prof.disable()
                    blocks.append((time.process_time() - c0) / args.per * 1e3)
                if prof:
                    prof.dump_stats(args.profile)
                med = sorted(blocks)[len(blocks) // 2]
                print(f"{args.name}: server CPU ms/turn median {med:.2f} (blocks {' '.join(f'{b:.1f}' for b in blocks)})")


p = argparse.ArgumentParser()
p.add_argument("name", nargs="?", default="run")
p.add_argument("--blocks", type=int, default=8)
p.add_argument("--per", type=int, default=40)
p.add_argument("--profile")
asyncio.run(main(p.parse_args()))
