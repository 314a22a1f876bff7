# ruff: noqa: E402  (a measuring script: imports placed where they are timed)
"""Start-up of `tactful eval` / `tactful chat` before their first turn: the imports, then the default context (the
intent model read from its cache, or fitted with `nocache`). Prints wall and CPU seconds."""

import sys
import time

t0 = time.perf_counter()
from tactful.cli import imports_without_gc

with imports_without_gc():  # as `tactful eval` / `chat` import their command module (tactful/cli.py)
    import tactful.commands.eval  # noqa
    import tactful.commands.chat  # noqa

t1 = time.perf_counter()
from tactful.graphs.context import build_context
from tactful.settings import Settings

build_context(Settings(**({"intent_cache": False} if "nocache" in sys.argv else {})))
t2 = time.perf_counter()
print(
    f"imports {t1 - t0:.2f} s, context {t2 - t1:.2f} s, start-up {t2 - t0:.2f} s wall, {time.process_time():.2f} s CPU"
)
