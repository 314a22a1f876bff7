"""The learned dissatisfaction channel: a numbers-only model file, folded into the noisy-OR, off for declines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tactful.agents.sentiment.learned import DissatisfactionModel, TurnContext, context_tokens
from tactful.agents.sentiment.model import LearnedChannel, SentimentReasoner, load_signal_config
from tactful.errors import ConfigError

UNHAPPY = ["move it to the other slot", "the other slot then", "other slot", "put it in the other slot"]
HAPPY = ["great, that works", "thanks, all done", "perfect, book it", "lovely, see you then"]


def _tiny_model() -> DissatisfactionModel:
    texts = UNHAPPY * 5 + HAPPY * 5
    contexts = [context_tokens(t, TurnContext(turn=3, bot_spoke=True)) for t in texts]
    labels = [1] * 20 + [0] * 20
    return DissatisfactionModel.fit(texts, contexts, labels, c=10.0)


def test_a_fitted_model_separates_its_classes_and_survives_a_round_trip(tmp_path: Path) -> None:
    model = _tiny_model()
    ctx = TurnContext(turn=3, bot_spoke=True)
    assert model.score("the other slot then", ctx) > 0.5 > model.score("thanks, that works", ctx)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = DissatisfactionModel.load(path)
    for text in ("the other slot then", "thanks, that works"):
        assert loaded.score(text, ctx) == pytest.approx(model.score(text, ctx), abs=1e-6)


def test_a_file_that_is_not_a_model_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    path.write_bytes(b"not a model")
    with pytest.raises(ConfigError):
        DissatisfactionModel.load(path)


def test_the_shipped_signals_name_a_model_that_loads() -> None:
    config = load_signal_config()
    assert config.learned.weight > 0
    assert config.learned_model() is not None


def _reasoners() -> tuple[SentimentReasoner, SentimentReasoner]:
    config = load_signal_config()
    on = SentimentReasoner(config, learned=_tiny_model())
    off = SentimentReasoner(config.model_copy(update={"learned": LearnedChannel()}))
    return on, off


def _assess(reasoner: SentimentReasoner, text: str) -> tuple[str, float]:
    state = reasoner.assess(text, turn=3, previous=None, prior_user_texts=["book a table for two"], events=[],
                            last_bot_action="respond", failures=0, prior_bot_texts=["Booked for Friday."])
    return state["label"], state["frustration"]


def test_the_channel_makes_a_turn_negative_without_moving_frustration() -> None:
    on, off = _reasoners()
    (label_on, frustration_on), (label_off, frustration_off) = _assess(on, "the other slot then"), _assess(
        off, "the other slot then")
    assert (label_on, label_off) == ("negative", "calm")
    assert frustration_on == frustration_off  # handoff rules, carry and trend read frustration: none moves
    assert _assess(on, "thanks, that works")[0] == _assess(off, "thanks, that works")[0]


def test_the_channel_is_off_for_a_polite_decline() -> None:
    on, off = _reasoners()
    text = "no thanks, not right now"
    assert _assess(on, text) == _assess(off, text)


def test_the_channel_reads_no_more_than_the_character_limit() -> None:
    config = load_signal_config()
    seen: list[int] = []

    class Counting(DissatisfactionModel):
        def score(self, text: str, ctx: TurnContext) -> float:
            seen.append(len(text))
            return super().score(text, ctx)

    base = _tiny_model()
    reasoner = SentimentReasoner(config, learned=Counting(idf=base.idf, coef=base.coef, intercept=base.intercept))
    reasoner.assess("the other slot " * 20_000, turn=1, previous=None, prior_user_texts=[], events=[],
                    last_bot_action=None, failures=0)
    assert seen and max(seen) <= config.limits.max_chars
