"""Prompt files in ``prompts/``, loaded by name. Each file's first line may carry ``<!-- version: N -->``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tactful.errors import ConfigError

_VERSION = re.compile(r"^<!--\s*version:\s*(\S+)\s*-->\s*\n?")


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    text: str

    def render(self, **values: str) -> str:
        """Fill ``{name}`` placeholders; unknown placeholders are an error, not a silent blank."""
        try:
            return self.text.format(**values)
        except (KeyError, IndexError) as exc:
            raise ConfigError(f"prompt {self.name!r} needs a value for {exc}") from exc


@lru_cache(maxsize=64)
def load_prompt(prompts_dir: Path, name: str) -> Prompt:
    """``name`` like ``system/support`` resolves to ``prompts_dir/system/support.md``."""
    path = prompts_dir / f"{name}.md"
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"missing prompt file for {name!r}", path=path) from exc
    m = _VERSION.match(raw)
    version = m.group(1) if m else "0"
    return Prompt(name=name, version=version, text=raw[m.end() :] if m else raw)


@lru_cache(maxsize=8)
def system_texts(prompts_dir: Path) -> tuple[str, ...]:
    """Every system prompt's text, for the output guard's leakage check."""
    folder = prompts_dir / "system"
    if not folder.is_dir():
        return ()
    return tuple(load_prompt(prompts_dir, f"system/{p.stem}").text for p in sorted(folder.glob("*.md")))


@lru_cache(maxsize=8)
def model_texts(prompts_dir: Path) -> tuple[str, ...]:
    """Every per-call model template's text (``prompts/model/*.md``): their headings are prompt framing a reply
    must never quote."""
    folder = prompts_dir / "model"
    if not folder.is_dir():
        return ()
    return tuple(load_prompt(prompts_dir, f"model/{p.stem}").text for p in sorted(folder.glob("*.md")))
