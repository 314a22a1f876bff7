"""Background examples: messages outside any support taxonomy (``policies/background.yaml``).

They are out-of-scope examples for every intent model — the default taxonomy's and one fit from a user's labelled
file — so that the out-of-scope rule learns from broad negatives, not only from the taxonomy's own few. Before
use, an example too close to one of the model's own training texts is dropped (a taxonomy that covers travel keeps
its travel questions in scope).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import Field

from tactful.config import Strict, load_yaml_model
from tactful.resources import POLICY_DIR

BACKGROUND_FILE = "background.yaml"


class Background(Strict):
    version: int = 1
    drop_similarity: float = Field(default=0.6, gt=0.0, le=1.0)
    """A background example whose cosine similarity to a training text reaches this is left out."""
    examples: list[str] = []


def load_background(path: Path | None = None) -> Background:
    return load_yaml_model(path or POLICY_DIR / BACKGROUND_FILE, Background)


def usable_background(background: Background, in_scope: Sequence[str]) -> list[str]:
    """The background examples not too close (character n-gram TF-IDF cosine) to any in-scope training text."""
    examples = [e for e in background.examples if e.strip()]
    if not examples or not in_scope:
        return examples
    from sklearn.feature_extraction.text import TfidfVectorizer  # fitting only: sklearn costs ~1 s to import

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True)
    vectorizer.fit([*in_scope, *examples])
    ours = vectorizer.transform(examples)
    theirs = vectorizer.transform(list(in_scope))
    nearest = np.asarray((ours @ theirs.T).max(axis=1).todense()).ravel()
    return [e for e, s in zip(examples, nearest, strict=True) if s < background.drop_similarity]
