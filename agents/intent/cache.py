"""The fitted intent model of a taxonomy, kept on disk between processes.

Fitting the default taxonomy's model takes ~2 s (and importing scikit-learn ~1.5 s more); every ``tactful eval``,
``tactful chat`` and worker start did it again. :func:`cached_model` keeps the fitted form (the arrays of
:meth:`IntentModel.save`, no pickle) under ``<cache dir>/intent/<key>/``, where the key is a SHA-256 of
everything the fit depends on: the training texts and labels, the out-of-scope and background examples, the fit
parameters, the package version and the source of the modules that fit. Any change is a new key (a miss, then a
fit). A cache entry is written into a temporary directory and renamed into place, so a reader never sees half of
one; one that cannot be read (corrupt, truncated, from an incompatible format) is fitted again and replaced. A
cache that cannot be written (read-only home) is skipped: the fitted model is used all the same.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from tactful.agents.intent import background, model
from tactful.agents.intent.model import IntentModel
from tactful.errors import InputError

_FIT_SOURCES = (model.__file__, background.__file__, Path(model.__file__).parent.parent / "ngrams.py")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/tactful``, else ``~/.cache/tactful``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tactful"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def cache_key(material: Mapping[str, object]) -> str:
    """The hex SHA-256 of ``material`` (JSON-able: texts, labels, parameters) and of what else shapes the fit."""
    digest = hashlib.sha256()
    context = {
        "format_version": model.FORMAT_VERSION,
        "versions": {d: _version(d) for d in ("tactful", "scikit-learn", "numpy", "scipy")},
    }
    digest.update(json.dumps({"material": material, "context": context}, sort_keys=True).encode("utf-8"))
    for source in _FIT_SOURCES:
        try:
            digest.update(Path(source).read_bytes())
        except OSError:  # an installed wheel without sources (zipapp): versions alone key it
            continue
    return digest.hexdigest()


def cached_model(
    material: Mapping[str, object],
    fit: Callable[[], IntentModel],
    *,
    cache_dir: Path | None,
    expect_labels: list[str] | None = None,
) -> IntentModel:
    """The model ``fit()`` gives for ``material``: read from ``cache_dir`` when there, else fitted and stored.
    ``cache_dir=None`` turns the cache off. ``expect_labels`` (sorted) guards against an entry of another fit."""
    if cache_dir is None:
        return fit()
    entry = Path(cache_dir) / "intent" / cache_key(material)
    if entry.is_dir():
        try:
            loaded = IntentModel.load(entry)
        except InputError:
            loaded = None
        if loaded is not None and (expect_labels is None or loaded.labels == expect_labels):
            return loaded
    fitted = fit()
    _store(fitted, entry)
    return fitted


def _store(fitted: IntentModel, entry: Path) -> None:
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name[:16]}.", dir=entry.parent))
    except OSError:
        return
    try:
        fitted.save(tmp)
        if entry.exists():  # a corrupt entry (or one another process just wrote): replace it
            shutil.rmtree(entry, ignore_errors=True)
        os.rename(tmp, entry)
    except (OSError, InputError):
        pass
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
