"""The packages whose ``__init__`` tactful defers (start-up): not run by importing the graphs and commands, run —
whole — on the first attribute read, and a graph built and run meanwhile works."""

from __future__ import annotations

import builtins
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tactful import _deferred


def _run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                         check=True)
    return out.stdout.strip()


def test_importing_the_commands_leaves_the_deferred_packages_uninitialised() -> None:
    out = _run("""
        import sys
        import tactful.commands.chat, tactful.commands.eval, tactful.graphs.support
        from tactful import _deferred
        print(*[_deferred.deferred(n) for n in _deferred.DEFERRED], "langsmith.types.run" in sys.modules,
              "langgraph_sdk.client" in sys.modules)
    """)
    assert out == "True True False False"


def test_first_attribute_read_runs_the_whole_init() -> None:
    out = _run("""
        import tactful.graphs.support
        from tactful import _deferred
        import langgraph_sdk, langsmith.types
        print(langgraph_sdk.get_client.__name__, langsmith.types.Run.__name__,
              *[_deferred.deferred(n) for n in _deferred.DEFERRED])
        from langsmith.types import Dataset
        print(Dataset.__module__)
    """)
    assert out.splitlines() == ["get_client Run False False", "langsmith.types.dataset"]


def test_a_graph_runs_while_deferred() -> None:
    out = _run("""
        from tactful import _deferred  # first: tactful's import registers the deferred packages
        from langgraph.graph import END, START, StateGraph
        from typing_extensions import TypedDict
        class S(TypedDict):
            n: int
        g = StateGraph(S)
        g.add_node("a", lambda s: {"n": s["n"] + 1})
        g.add_edge(START, "a")
        g.add_edge("a", END)
        print(g.compile().invoke({"n": 1})["n"], _deferred.deferred("langsmith.types"))
    """)
    assert out == "2 True"


def test_init_runs_once_on_first_read_and_unknown_names_still_raise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "deferred_demo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import builtins\nbuiltins.deferred_demo_runs += 1\nVALUE = 7\n")
    (pkg / "part.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(builtins, "deferred_demo_runs", 0, raising=False)
    monkeypatch.delitem(sys.modules, "deferred_demo", raising=False)
    monkeypatch.delitem(sys.modules, "deferred_demo.part", raising=False)

    assert _deferred.defer_init("deferred_demo") is True
    assert _deferred.defer_init("deferred_demo") is False  # registered already
    from deferred_demo.part import X  # a submodule imports without the package's __init__

    assert X == 1 and builtins.deferred_demo_runs == 0 and _deferred.deferred("deferred_demo")
    import deferred_demo

    assert deferred_demo.VALUE == 7 and builtins.deferred_demo_runs == 1
    assert not _deferred.deferred("deferred_demo")
    with pytest.raises(AttributeError):
        _ = deferred_demo.no_such_name
    assert builtins.deferred_demo_runs == 1
    assert _deferred.defer_init("no_such_package_here") is False
