"""The README's drawing of the support graph is the compiled graph's own drawing."""

from __future__ import annotations

import re

from tactful.graphs.support import compile_support_graph
from tests import REPO_ROOT


def _edges(mermaid: str) -> set[str]:
    return {line.strip() for line in mermaid.splitlines() if "-->" in line or "-.->" in line}


def test_readme_mermaid_matches_the_compiled_support_graph() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```mermaid\n(.*?)```", readme, flags=re.S)
    assert blocks, "README has no mermaid block"
    compiled = compile_support_graph().get_graph().draw_mermaid()
    drawn = compiled[compiled.index("graph TD;") :]
    assert blocks[0].strip() == drawn.strip()
    assert ("input_guards -.-> handoff;" in _edges(blocks[0])) and ("output_guard -.-> handoff;" in _edges(blocks[0]))
