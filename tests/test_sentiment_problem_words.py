"""Problem words name the product's state, not the person's: "the export fails with an error" is a calm report of
an issue, while the same words with anger, appeals or a judgement of us still read as they did."""

from __future__ import annotations

import pytest

from tactful.agents.sentiment.model import SentimentReasoner, load_signal_config

CONFIG = load_signal_config()
REASONER = SentimentReasoner(CONFIG, learned=CONFIG.learned_model())


def _opening(text: str) -> tuple[str, float]:
    state = REASONER.assess(
        text, turn=1, previous=None, prior_user_texts=[], events=[], last_bot_action=None, failures=0
    )
    return state["label"], state["frustration"]


@pytest.mark.parametrize(
    "text",
    [
        "my export to csv fails with an error",
        "the nightly sync failed with an error code",
        "uploading a logo gives an error",
        "the invoice page is broken on mobile",
    ],
)
def test_a_calm_report_of_a_failure_is_not_frustration(text: str) -> None:
    label, frustration = _opening(text)
    assert label not in {"frustrated", "distressed"}, (text, label, frustration)
    assert frustration < CONFIG.labels.frustrated, (text, frustration)


@pytest.mark.parametrize(
    "text",
    [
        "this is broken and I'm furious about it",
        "the export failed again and nobody helps, this is useless",
        "your support is a total failure, I want to cancel",
    ],
)
def test_the_same_words_with_anger_or_a_judgement_of_us_still_read_negative(text: str) -> None:
    label, _ = _opening(text)
    assert label in {"negative", "frustrated", "distressed"}, (text, label)


def test_only_listed_words_are_scaled_and_the_scale_is_a_damping() -> None:
    problem = CONFIG.valence.problem_words
    assert 0 < problem.scale < 1
    assert {"fails", "error", "broken"} <= set(problem.words)
    assert not {"furious", "useless", "terrible", "hate", "failure"} & set(problem.words)  # feelings and judgements
