"""Packages whose ``__init__`` runs on first use instead of at import: start-up of ``tactful eval`` / ``chat``.

``import langgraph.graph`` pulls in, through ``langchain_core.runnables`` → ``langchain_core.tracers`` →
``langsmith.run_trees``, the package ``langsmith.types`` (~100 pydantic models of LangSmith's REST API, built to
read one ``Literal`` alias from one of its submodules), and, through ``langgraph.runtime``, the package
``langgraph_sdk`` (its HTTP and websocket clients, httpx, to read one protocol class from ``langgraph_sdk.auth``).
Neither package's ``__init__`` is needed to run a graph: here each is registered as its module object with its
real spec and ``__path__`` — so its submodules import as usual — and its ``__init__`` runs, once, on the first
read of an attribute the module does not have yet (``langsmith.types.Run``, ``langgraph_sdk.get_client``):
whoever uses them sees the whole package, as if it had been imported eagerly.

Nothing is deferred when the package is already imported or cannot be found.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

DEFERRED = ("langsmith.types", "langgraph_sdk")


def defer_init(name: str) -> bool:
    """Register package ``name`` without running its ``__init__`` until an attribute of it is read; False when
    it is imported already or not installed."""
    if name in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return False
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader
    lock = threading.RLock()

    def __getattr__(attr: str) -> Any:
        with lock:
            if module.__dict__.get("__getattr__") is __getattr__:
                del module.__dict__["__getattr__"]
                try:
                    loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(name, None)  # as a failed import leaves it: the next import tries again
                    raise
        try:
            return module.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None

    __getattr__.deferred_init = True  # type: ignore[attr-defined]
    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return True


def deferred(name: str) -> bool:
    """Whether package ``name`` is registered and its ``__init__`` has not run yet."""
    module: ModuleType | None = sys.modules.get(name)
    hook = None if module is None else module.__dict__.get("__getattr__")
    return getattr(hook, "deferred_init", False) is True


def install() -> None:
    for name in DEFERRED:
        defer_init(name)
