"""The deterministic detectors behind the metrics: repeated questions, restatements and policy breaches."""

from __future__ import annotations

from tactful.evals.detectors import BotTurn, default_detectors


def _t(
    turn: int,
    user: str,
    reply: str | None,
    action: str = "respond",
    *,
    mode: str = "bot",
    events: tuple[str, ...] = (),
) -> BotTurn:
    return BotTurn(turn=turn, user=user, reply=reply, action=action, mode_before=mode, event_types=events)


def test_asking_for_an_order_number_already_given_is_a_repeated_question() -> None:
    d = default_detectors()
    turns = [
        _t(1, "my order #48213 hasn't arrived", "Sorry about that. What's your order number?"),
    ]
    found = d.repeated_questions(turns, {})
    assert [(q.turn, q.kind) for q in found] == [(1, "slot:order_number")]


def test_asking_for_an_order_number_not_yet_given_is_not_repeated() -> None:
    d = default_detectors()
    turns = [_t(1, "my parcel hasn't arrived", "Could you tell me your order number?")]
    assert d.repeated_questions(turns, {}) == []


def test_a_slot_held_by_the_account_context_counts_as_given() -> None:
    d = default_detectors()
    turns = [_t(1, "I need help", "What is your account ID?")]
    assert [q.kind for q in d.repeated_questions(turns, {"account_id": "ACC-1"})] == ["slot:account_id"]


def test_two_clarifying_questions_in_a_row_are_a_repeated_question() -> None:
    d = default_detectors()
    turns = [
        _t(1, "it's broken", "Is this about signing in, or billing?", "clarify"),
        _t(2, "the thing", "Is it about your order, or a refund?", "clarify"),
    ]
    assert [(q.turn, q.kind) for q in d.repeated_questions(turns, {})] == [(2, "clarify_twice")]


def test_the_same_question_asked_again_later_is_repeated() -> None:
    d = default_detectors()
    turns = [
        _t(1, "hi", "Which email address is on the account?"),
        _t(2, "jo at work", "Thanks."),
        _t(3, "?", "Which email address is on the account?"),
    ]
    kinds = [(q.turn, q.kind) for q in d.repeated_questions(turns, {})]
    assert (3, "same_question") in kinds


def test_the_same_answer_twice_in_a_row_is_detected() -> None:
    d = default_detectors()
    answer = "Tap Forgot password on sign-in; the link we email lasts 30 min."
    turns = [_t(1, "reset pwd", answer), _t(2, "didn't work", answer)]
    assert [(a.turn, a.kind) for a in d.repeated_answers(turns)] == [(2, "same_answer")]


def test_a_restatement_is_recognised_and_a_new_topic_is_not() -> None:
    d = default_detectors()
    earlier = ["Okta single sign-on keeps looping back to the login page"]
    assert d.restates("the okta sso login page loops back again", earlier)
    assert not d.restates("how much is the business plan", earlier)


def test_promotion_during_a_hold_is_a_breach_unless_the_person_asked_about_plans() -> None:
    d = default_detectors()
    promo = "Your card was declined. While you're here, upgrade to annual and save 20%!"
    turns = [_t(1, "my card was declined", promo, events=("failed_payment",))]
    assert [b.kind for b in d.breaches(turns, forbidden={})] == ["promotion_during_hold"]
    asked = [_t(1, "card declined - also what plans do you have?", promo, events=("failed_payment",))]
    assert d.breaches(asked, forbidden={}) == []
    no_hold = [_t(1, "what's new?", promo)]
    assert d.breaches(no_hold, forbidden={}) == []


def test_a_reply_after_a_handoff_is_a_breach() -> None:
    d = default_detectors()
    turns = [_t(2, "hello?", "Hi again! How can I help?", mode="human")]
    assert [b.kind for b in d.breaches(turns, forbidden={})] == ["reply_after_handoff"]


def test_forbidden_phrases_unauthorized_promises_and_system_text_are_breaches() -> None:
    d = default_detectors()
    leak = "Sure: Never promise refunds, credits, discounts or legal outcomes: only a person can commit."
    turns = [
        _t(
            1,
            "x",
            "Here is 50% off for you",
        ),
        _t(2, "y", "Good news, your refund has been approved."),
        _t(3, "z", leak),
    ]
    kinds = [(b.turn, b.kind) for b in d.breaches(turns, forbidden={1: ["50% off"]})]
    assert (1, "forbidden") in kinds
    assert (2, "unauthorized_promise") in kinds
    assert (3, "system_text_leak") in kinds
