"""The development data the sentiment reasoner is measured and fitted on (read from the shared data sets folder).

- USS SGD (``uss/SGD.txt``): 1,000 task-oriented dialogues, every user turn rated 1-5 by annotators; a mean of
  2.5 or less is a dissatisfied turn. Dialogues 0-499 are the tuning part, 500-999 the report part: nothing is
  fitted or written against the report part.
- GoEmotions (``goemotions/{train,dev}.tsv``): Reddit comments; the negative group (anger, annoyance,
  disappointment, disapproval, disgust) is the positive class. ``train`` is fitted on, ``dev`` is reported.

:func:`replay` runs the reasoner over SGD dialogues with SGD's own system turns as the bot's side and yields the
learned channel's inputs for each user turn, which is what ``tactful sentiment fit`` trains on.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tactful.agents.sentiment.learned import context_tokens

if TYPE_CHECKING:
    from tactful.agents.sentiment.model import SentimentReasoner
    from tactful.agents.state import SentimentState

NEGATIVE = frozenset({"anger", "annoyance", "disappointment", "disapproval", "disgust"})
# GoEmotions' own sentiment grouping of its negative emotions: the dissatisfied ones above plus sadness, fear and
# the rest of the non-anger negativity. The first-message model is fitted on it; a sad or anxious opening message
# is no calm one.
NEGATIVE_BROAD = NEGATIVE | frozenset({"embarrassment", "fear", "grief", "nervousness", "remorse", "sadness"})
GROUPS = {"narrow": NEGATIVE, "broad": NEGATIVE_BROAD}
TUNE_DIALOGUES = range(0, 500)
REPORT_DIALOGUES = range(500, 1000)
# SGD system acts that ask the user something (the graph's "clarify"); the rest answer.
ASKING_ACTS = frozenset({"REQUEST", "CONFIRM", "OFFER_INTENT"})
# GoEmotions masks names and religions as "[NAME]" / "[RELIGION]"; unmasked they would read as shouting.
_PLACEHOLDER = re.compile(r"\[([A-Z]+)\]")


@dataclass(frozen=True)
class Exchange:
    """One rated user turn and the system turn it answered."""

    system_before: str | None
    system_act: str | None
    text: str
    dissatisfied: bool


def load_sgd(path: Path) -> list[list[Exchange]]:
    dialogues: list[list[Exchange]] = []
    current: list[Exchange] = []
    system: tuple[str, str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if current:
                dialogues.append(current)
            current, system = [], None
            continue
        parts = line.split("\t")
        if parts[0] == "SYSTEM":
            system = (parts[1], parts[2] if len(parts) > 2 else "")
        elif parts[0] == "USER" and parts[1] != "OVERALL" and len(parts) > 3 and parts[3]:
            ratings = [int(x) for x in parts[3].split(",")]
            current.append(
                Exchange(
                    system[0] if system else None,
                    system[1] if system else None,
                    parts[1],
                    sum(ratings) / len(ratings) <= 2.5,
                )
            )
    if current:
        dialogues.append(current)
    return dialogues


def load_goemotions_rows(data_dir: Path, split: str = "dev") -> list[tuple[str, frozenset[str], str]]:
    """(comment, its emotion labels, its id) for ``split`` (train, dev)."""
    names: list[str] = json.loads((data_dir / "labels.json").read_text(encoding="utf-8"))
    rows: list[tuple[str, frozenset[str], str]] = []
    for line in (data_dir / f"{split}.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        text, ids, row_id = line.split("\t")
        labels = frozenset(names[int(i)] for i in ids.split(",") if i)
        rows.append((_PLACEHOLDER.sub(lambda m: m.group(1).capitalize(), text), labels, row_id))
    return rows


def load_goemotions(data_dir: Path, split: str = "dev", group: str = "narrow") -> list[tuple[str, bool]]:
    """(comment, in the negative ``group``: ``narrow`` (:data:`NEGATIVE`) or ``broad``) for ``split``."""
    positive = GROUPS[group]
    return [(text, bool(labels & positive)) for text, labels, _ in load_goemotions_rows(data_dir, split)]


def goemotions_tune_row(row_id: str) -> bool:
    """Whether a GoEmotions train row is in the fifth kept out of the first-message model's fit, on which its
    calibration is chosen (a stable hash of the row's id, so the split is the same on every machine)."""
    return zlib.crc32(row_id.encode()) % 5 == 0


def bot_action(system_act: str | None) -> str | None:
    """The graph's action for an SGD system act: asking acts are ``clarify``, the rest ``respond``."""
    if system_act is None:
        return None
    return "clarify" if system_act in ASKING_ACTS else "respond"


@dataclass(frozen=True)
class ScoredTurn:
    text: str
    context: str  # the learned channel's context tokens
    dissatisfied: bool
    state: SentimentState


def replay(reasoner: SentimentReasoner, dialogues: Sequence[Sequence[Exchange]]) -> Iterator[ScoredTurn]:
    """The reasoner over each dialogue, turn by turn, with SGD's system turns as the bot's side."""
    from tactful.agents.sentiment.node import failure_signals

    for exchanges in dialogues:
        previous: SentimentState | None = None
        users: list[str] = []
        bots: list[str] = []
        failures = 0
        for turn, ex in enumerate(exchanges, start=1):
            action = bot_action(ex.system_act)
            if ex.system_before:
                bots.append(ex.system_before)
            state = reasoner.assess(
                ex.text,
                turn=turn,
                previous=previous,
                prior_user_texts=users[-10:],
                events=[],
                last_bot_action=action,
                failures=failures,
                prior_bot_texts=bots[-3:],
            )
            if failure_signals(state["markers"], last_action=action):
                failures += 1
            context = reasoner.last_context
            assert context is not None
            yield ScoredTurn(ex.text, context_tokens(ex.text, context), ex.dissatisfied, state)
            previous = state
            users.append(ex.text)
