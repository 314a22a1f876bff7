"""The offline sentiment reasoner: markers, urgency, events, carry, trend and the signals file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from tactful.agents.sentiment.model import (
    DEFAULT_SIGNALS_PATH,
    MARKER_CODES,
    SentimentReasoner,
    SignalConfig,
    least_squares_slope,
    load_signal_config,
)
from tactful.agents.state import Event, SentimentState
from tactful.errors import ConfigError


@pytest.fixture(scope="module")
def config() -> SignalConfig:
    return load_signal_config()


@pytest.fixture(scope="module")
def reasoner(config: SignalConfig) -> SentimentReasoner:
    return SentimentReasoner(config)


def one(
    reasoner: SentimentReasoner,
    text: str,
    *,
    failures: int = 0,
    last_bot_action: str | None = None,
    events: Sequence[Event] = (),
    prior: Sequence[str] = (),
    channel: str | None = None,
    device: str | None = None,
) -> SentimentState:
    return reasoner.assess(
        text,
        turn=len(prior) + 1,
        previous=None,
        prior_user_texts=list(prior),
        events=list(events),
        last_bot_action=last_bot_action,
        failures=failures,
        channel=channel,
        device=device,
    )


def conversation(
    reasoner: SentimentReasoner, texts: Sequence[str], *, events: Sequence[Event] = (), failures: int = 0
) -> list[SentimentState]:
    states: list[SentimentState] = []
    previous: SentimentState | None = None
    for index, text in enumerate(texts):
        previous = reasoner.assess(
            text,
            turn=index + 1,
            previous=previous,
            prior_user_texts=list(texts[:index]),
            events=list(events),
            last_bot_action="respond" if index else None,
            failures=failures,
        )
        states.append(previous)
    return states


def mfa(at: str = "2025-03-01T10:00:00Z", turn: int | None = None) -> Event:
    event: Event = {"type": "mfa_failure", "at": at}
    if turn is not None:
        event["detail"] = {"turn": turn}
    return event


# --------------------------------------------------------------------------- terse is not angry


@pytest.mark.parametrize("text", ["pwd reset pls", "ok", "order 4412", "refund?", "acct 99812"])
def test_terse_calm_user_is_calm(reasoner: SentimentReasoner, text: str) -> None:
    state = one(reasoner, text)
    assert state["frustration"] < 0.1
    assert state["label"] == "calm"
    assert state["markers"] == []
    assert state["hurried"] is False


def test_terse_after_a_bot_failure_is_a_marker(reasoner: SentimentReasoner) -> None:
    state = one(reasoner, "no. wrong", failures=1, last_bot_action="respond")
    assert "terse_after_failure" in state["markers"]
    calm = one(reasoner, "no. wrong", failures=0, last_bot_action="respond")
    assert "terse_after_failure" not in calm["markers"]
    assert state["frustration"] > calm["frustration"]


@pytest.mark.parametrize(
    ("text", "channel", "device", "action"),
    [
        ("ok", "mobile", None, "respond"),
        ("ok", None, "mobile", "respond"),
        ("nope", "sms", None, "respond"),
        ("the blue one", None, None, "clarify"),
        ("order 4412", None, None, "respond"),
        ("thanks", None, None, "respond"),
    ],
)
def test_short_replies_that_are_not_curt(
    reasoner: SentimentReasoner, text: str, channel: str | None, device: str | None, action: str
) -> None:
    state = one(reasoner, text, failures=1, last_bot_action=action, channel=channel, device=device)
    assert "terse_after_failure" not in state["markers"]
    assert state["frustration"] < 0.1


# --------------------------------------------------------------------------- a hurry is not hostility


@pytest.mark.parametrize(
    "text",
    [
        "I need my password reset asap, boarding in 10 min",
        "in a hurry - meeting in 5, can you send the invoice right now",
        "urgent: need the refund status quick",
    ],
)
def test_hurried_user_is_urgent_not_frustrated(reasoner: SentimentReasoner, text: str) -> None:
    state = one(reasoner, text)
    assert state["hurried"] is True
    assert state["urgency"] >= 0.6
    assert state["frustration"] < 0.1
    assert state["label"] == "calm"
    assert state["markers"] == []


def test_quick_question_is_hurried_but_a_lone_weak_cue_is_not(reasoner: SentimentReasoner) -> None:
    quick = one(reasoner, "quick question about my invoice")
    assert quick["hurried"] is True
    assert quick["frustration"] < 0.1
    weak = one(reasoner, "the transfer should arrive in 20 minutes, right?")
    assert weak["hurried"] is False
    assert 0 < weak["urgency"] < 0.5


def test_hurry_persists_through_a_terse_follow_up(reasoner: SentimentReasoner) -> None:
    first, second, third = conversation(
        reasoner,
        ["need the invoice asap, boarding in 10 min", "yes", "Could you also explain the tax line on it?"],
    )
    assert first["hurried"] and second["hurried"]
    assert not third["hurried"]
    assert first["urgency"] > second["urgency"] > third["urgency"]


# --------------------------------------------------------------------------- trend


def test_frustration_rising_over_three_turns(reasoner: SentimentReasoner) -> None:
    states = conversation(
        reasoner,
        [
            "Hi, I can't download my invoice",
            "I still can't download the invoice, this is getting annoying",
            "This is the third time I'm asking!!",
        ],
    )
    values = [s["frustration"] for s in states]
    assert values[0] < 0.1
    assert values[0] < values[1] < values[2]
    assert values[2] >= 0.6
    assert states[2]["trend"] == "rising"
    assert states[2]["slope"] > 0
    assert states[2]["label"] == "frustrated"
    assert "restated" in states[1]["markers"]
    assert "nth_time" in states[2]["markers"]
    assert [h["turn"] for h in states[2]["history"]] == [1, 2, 3]


def test_one_angry_line_then_calm_is_not_rising(reasoner: SentimentReasoner) -> None:
    states = conversation(
        reasoner,
        [
            "THIS IS RIDICULOUS, NOTHING WORKS!!!",
            "ok, the order number is 4412",
            "the delivery address is 12 Elm Street",
            "thanks",
        ],
    )
    assert states[0]["frustration"] >= 0.6
    assert states[-1]["frustration"] < 0.15
    assert all(s["trend"] in ("falling", "steady") for s in states)
    assert states[-1]["worst"] == states[0]["frustration"]


def test_a_single_outlier_at_the_end_is_not_a_trend(reasoner: SentimentReasoner) -> None:
    states = conversation(
        reasoner, ["hi, where is my parcel", "order 4412", "sent to Leeds", "this is useless!!"]
    )
    assert states[-1]["frustration"] >= 0.5
    assert states[-1]["trend"] == "steady"


def test_trend_rules(reasoner: SentimentReasoner) -> None:
    assert reasoner.trend([0.1, 0.3, 0.6]) == ("rising", 0.25)
    assert reasoner.trend([0.8, 0.4, 0.1])[0] == "falling"
    assert reasoner.trend([0.1, 0.8])[0] == "steady"  # too few points
    assert reasoner.trend([0.3, 0.31, 0.32, 0.33])[0] == "steady"  # inside the dead band
    assert least_squares_slope([1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert least_squares_slope([0.5]) == 0.0


# --------------------------------------------------------------------------- restatement


@pytest.mark.parametrize(
    ("text", "earlier"),
    [
        ("I still can't log in", "can't log in"),
        ("login still not working", "I cannot log in to my account"),
        ("how do I reset my password?", "I need to reset my password please"),
        ("pwd reset pls", "please reset my password"),
        ("I was charged twice for my order", "why did you charge me two times for my order"),
        ("my card payment keeps failing", "the payment on my card failed"),
    ],
)
def test_restatement_across_paraphrases(reasoner: SentimentReasoner, text: str, earlier: str) -> None:
    assert reasoner.restated(text, ["hello", earlier])


@pytest.mark.parametrize(
    ("text", "earlier"),
    [
        ("I can log in now, thanks", "can't log in"),
        ("reset my password", "change my email address"),
        ("track my package", "cancel my order"),
        ("my payment failed", "I want to cancel my subscription"),
        ("ok", "ok"),
        ("yes please", "yes please"),
    ],
)
def test_different_requests_are_not_restatements(
    reasoner: SentimentReasoner, text: str, earlier: str
) -> None:
    assert not reasoner.restated(text, [earlier])


@pytest.mark.parametrize(
    "text",
    [
        "I told you, the export button does nothing",
        "that's not what I asked. I need the invoices from 2023",
        "Sorry, I mean where do I find last year's receipts?",
        "As I said, the sync stopped on Monday",
        "Same problem as I reported earlier: no emails arrive",
        "This is the third time I'm writing about this refund",
        "Let me rephrase: can admins see deleted messages?",
    ],
)
def test_a_restatement_in_other_words_is_noticed_by_what_it_says(reasoner: SentimentReasoner, text: str) -> None:
    assert reasoner.restated(text, ["the earlier message, in quite different words"])


@pytest.mark.parametrize("text", ["I mean it, thanks a lot!", "what do you mean by workspace?"])
def test_words_like_the_cues_are_not_restatements(reasoner: SentimentReasoner, text: str) -> None:
    assert not reasoner.restated(text, ["an earlier message about something else"])


def test_a_cue_on_the_first_message_is_no_restatement(reasoner: SentimentReasoner) -> None:
    assert not reasoner.restated("As I said, the sync stopped on Monday", [])


def test_restatement_only_looks_back_so_far(reasoner: SentimentReasoner, config: SignalConfig) -> None:
    filler = [f"question number {n} about topic {n}" for n in range(config.markers.restated.lookback)]
    assert reasoner.restated("I can't log in", ["can't log in", *filler[:-1]])
    assert not reasoner.restated("I can't log in", ["can't log in", *filler])


# --------------------------------------------------------------------------- markers


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("WHY IS THIS NOT WORKING", "caps"),
        ("where is my refund???", "punctuation"),
        ("this damn app logged me out", "profanity"),
        ("that didn't work", "bot_negative"),
        ("you're not listening to me", "bot_negative"),
        ("that is not what I asked", "bot_negative"),
        ("this bot is useless", "bot_negative"),
        ("I'll cancel my subscription if this isn't fixed", "cancel_threat"),
        ("how many times do I have to explain this", "nth_time"),
        ("for the last time, my order number is 4412", "nth_time"),
        ("it crashed again", "again"),
        ("honestly I'm fed up with this", "exasperation"),
        ("I'm scared, I can't afford this charge", "distress"),
    ],
)
def test_marker_detection(reasoner: SentimentReasoner, text: str, code: str) -> None:
    state = one(reasoner, text)
    assert code in state["markers"]
    assert set(state["markers"]) <= set(MARKER_CODES)
    assert state["frustration"] > one(reasoner, "where is my refund")["frustration"]


def test_acronyms_and_delight_are_not_shouting(reasoner: SentimentReasoner) -> None:
    assert one(reasoner, "my MFA code for SSO via the API and PIN fails")["markers"] == []
    delighted = one(reasoner, "THANK YOU SO MUCH!!!")
    assert delighted["markers"] == []
    assert delighted["label"] == "positive"


def test_distress_is_labelled_and_raises_urgency(reasoner: SentimentReasoner) -> None:
    first, second, third = conversation(
        reasoner, ["I'm scared, I lost my job and can't afford this charge", "ok", "thanks, that fixed it"]
    )
    assert first["label"] == "distressed"
    assert first["urgency"] >= 0.4
    assert second["label"] == "distressed"  # vulnerability does not vanish with an "ok"
    assert third["label"] != "distressed"


def test_everything_at_once_stays_in_range(reasoner: SentimentReasoner) -> None:
    text = "THIS IS THE THIRD TIME!!! useless damn bot, I'll cancel my account, I'm desperate"
    events: list[Event] = [mfa(), mfa(), {"type": "account_locked", "at": "2025-03-01T10:00:00Z"}]
    state = one(reasoner, text, failures=3, events=events, prior=["THIS IS THE THIRD TIME!!!"])
    assert 0.9 < state["frustration"] <= 1.0
    assert 0.0 <= state["urgency"] <= 1.0
    assert -1.0 <= state["score"] <= 1.0


# --------------------------------------------------------------------------- events


def test_events_alone_raise_frustration(reasoner: SentimentReasoner) -> None:
    quiet = one(reasoner, "hello")
    once = one(reasoner, "hello", events=[mfa()])
    twice = one(reasoner, "hello", events=[mfa(), mfa("2025-03-01T10:01:00Z")])
    assert quiet["frustration"] < 0.05
    assert once["frustration"] > quiet["frustration"]
    assert twice["frustration"] >= 0.35
    assert twice["frustration"] - once["frustration"] > once["frustration"] - quiet["frustration"]
    assert twice["label"] == "negative"
    assert twice["urgency"] > 0.3
    assert twice["markers"] == []


def test_payment_and_lockout_events_raise_urgency(reasoner: SentimentReasoner) -> None:
    for kind in ("failed_payment", "payment_failed", "account_locked"):
        state = one(reasoner, "hello", events=[{"type": kind, "at": "2025-03-01T10:00:00Z"}])
        assert state["urgency"] >= 0.4, kind
    assert (
        one(reasoner, "hello", events=[{"type": "page_view", "at": "2025-03-01T10:00:00Z"}])["frustration"]
        < 0.05
    )


def test_events_decay_over_turns(reasoner: SentimentReasoner) -> None:
    events = [mfa(turn=1), mfa(turn=1)]
    states = conversation(reasoner, ["hello", "order 4412", "sent to Leeds", "the blue one"], events=events)
    values = [s["frustration"] for s in states]
    assert values == sorted(values, reverse=True)
    assert values[0] >= 0.35 and values[-1] < 0.15


def test_events_decay_by_time_when_now_is_given(reasoner: SentimentReasoner) -> None:
    def at(now: str) -> float:
        state = reasoner.assess(
            "hello",
            turn=1,
            previous=None,
            prior_user_texts=[],
            events=[mfa(), mfa()],
            last_bot_action=None,
            failures=0,
            now=now,
        )
        return state["frustration"]

    assert at("2025-03-01T10:00:00Z") > at("2025-03-01T10:30:00Z") > at("2025-03-01T13:00:00Z")


# --------------------------------------------------------------------------- recovery, history, determinism


def test_recovery_lowers_frustration_and_worst_keeps_the_peak(reasoner: SentimentReasoner) -> None:
    events = [mfa(), mfa()]
    angry, fixed = conversation(
        reasoner, ["this is useless, the code didn't work AGAIN!!", "thanks, that worked"], events=events
    )
    assert angry["frustration"] >= 0.7
    assert fixed["frustration"] < 0.2
    assert fixed["worst"] == angry["frustration"]
    assert fixed["label"] == "positive"
    assert len(fixed["history"]) == 2


def test_neutral_reply_keeps_some_frustration(reasoner: SentimentReasoner) -> None:
    angry, neutral = conversation(reasoner, ["this is useless, nothing works", "order 4412"])
    assert 0.1 < neutral["frustration"] < angry["frustration"]


def test_deterministic_and_idempotent_per_turn(reasoner: SentimentReasoner) -> None:
    first = conversation(reasoner, ["hi, I can't log in", "still can't log in!!"])
    again = conversation(reasoner, ["hi, I can't log in", "still can't log in!!"])
    assert first == again
    redo = reasoner.assess(
        "still can't log in!!",
        turn=2,
        previous=first[1],
        prior_user_texts=["hi, I can't log in"],
        events=[],
        last_bot_action="respond",
        failures=0,
    )
    assert redo["history"] == first[1]["history"]  # re-scoring a turn replaces it, never duplicates it


# --------------------------------------------------------------------------- the signals file


def test_default_path_is_the_repo_policy() -> None:
    assert DEFAULT_SIGNALS_PATH.parent.name == "policies"
    assert load_signal_config(DEFAULT_SIGNALS_PATH) == load_signal_config()


def test_unknown_key_names_file_and_line(tmp_path: Path) -> None:
    lines = DEFAULT_SIGNALS_PATH.read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("  caps:"))
    lines.insert(index + 1, "    shout_bonus: 0.5")
    bad = tmp_path / "signals.yaml"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_signal_config(bad)
    assert caught.value.path == str(bad)
    assert caught.value.line == index + 2
    assert "shout_bonus" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("version: 1\nvalence: [", "invalid YAML"),
        ("version: 1\n", "valence"),
    ],
)
def test_broken_files_are_config_errors(tmp_path: Path, text: str, needle: str) -> None:
    bad = tmp_path / "signals.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=needle):
        load_signal_config(bad)


def test_bad_regex_and_missing_file(tmp_path: Path) -> None:
    text = DEFAULT_SIGNALS_PATH.read_text(encoding="utf-8").replace("'\\bshit\\w*'", "'(unclosed'")
    bad = tmp_path / "signals.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid regular expression") as caught:
        load_signal_config(bad)
    assert caught.value.line is not None
    with pytest.raises(ConfigError, match="not found"):
        load_signal_config(tmp_path / "missing.yaml")
