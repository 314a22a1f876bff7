"""Files that ship inside the package — the default policies, prompts and eval suites — found with
``importlib.resources``, so an installed wheel and a source checkout read the same files."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def package_path(*parts: str) -> Path:
    """A directory or file shipped in the ``tactful`` package (a regular package: always a real path)."""
    return Path(str(files("tactful").joinpath(*parts)))


POLICY_DIR = package_path("policies")
PROMPTS_DIR = package_path("prompts")
EVALS_DIR = package_path("evals")


def source_checkout() -> Path | None:
    """The repository root when running from a source checkout (for dev tools: git, ``../shared``), else None."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "agents").is_dir() else None
