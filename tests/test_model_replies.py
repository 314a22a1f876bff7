"""Model-written replies are never worse than the offline ones: the grounding guard and the responder's skeleton.

The grounding checks run on sentences a small model really writes (shapes seen from a local 0.5B model: quoted
prompt headings, intent labels, invented pages and years, the previous answer again). The graph tests drive the
real support graph with the scripted engine, whose replies stand in for a model's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from tactful.agents.engine.scripted import ScriptedEngine
from tactful.agents.guards.grounding import Source, framing_headings
from tactful.agents.guards.rules import Guards
from tactful.agents.policy.files import PolicyBundle
from tactful.agents.prompts import model_texts
from tactful.graphs.runner import SupportRunner
from tactful.graphs.support import compile_support_graph
from tactful.resources import POLICY_DIR, PROMPTS_DIR
from tests.support_helpers import shared_context

CTX = shared_context()
GROUNDING = CTX.guards.grounding
ANSWER = CTX.templates.answers["password_reset"]
APPROVED = "\n".join([ANSWER.ack, ANSWER.standard, CTX.templates.footer_human.standard])
SOURCE = Source(approved=APPROVED, said=["I forgot my password, my account number is 88412"])


def cause(sentence: str, source: Source = SOURCE) -> str | None:
    assert GROUNDING is not None
    finding = GROUNDING.check(sentence, source)
    return finding.cause if finding else None


# ---------------------------------------------------------------------- the grounding guard


def test_the_prompt_headings_are_read_from_the_model_prompt_files() -> None:
    headings = framing_headings(model_texts(PROMPTS_DIR))
    assert {"approved content", "tone", "mood"} <= set(headings)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Approved content: You need a new password to get back in.", "framing_leak"),
        ("Tone: standard", "framing_leak"),
        ("Customer: I forgot my password", "framing_leak"),
        ("This looks like a password_reset request.", "internal_label"),
        ("Open https://example.com/reset to choose a new password.", "ungrounded_url"),
        ("Write to help@example.com if the link does not arrive.", "ungrounded_contact"),
        ("The link stays valid for 24 hours.", "ungrounded_number"),
        ("I will unlock your account myself.", "ungrounded_promise"),
        ("I guarantee the email arrives.", "ungrounded_promise"),
        ("Go to the Account Center and pick Recovery.", "ungrounded_step"),
        ("Download the past invoices for 2030 from the website of your billing software.", "ungrounded_number"),
        ("Download the past invoices from the website of your billing software.", "ungrounded_step"),
    ],
)
def test_sentences_that_are_not_in_the_approved_content_are_rejected(sentence: str, expected: str) -> None:
    assert cause(sentence) == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "I'm sorry you're stuck, let's sort it out.",
        "Choose Forgot password on the sign-in page and open the link we email you.",
        "The link is valid for 30 minutes, so check your spam folder if it doesn't arrive.",
        "Account 88412, thanks.",
        "1. Choose Forgot password on the sign-in page.",
    ],
)
def test_paraphrases_pleasantries_and_the_customers_own_numbers_pass(sentence: str) -> None:
    assert cause(sentence) is None


def test_the_previous_answer_sent_again_is_a_repeat_unless_this_turn_approves_it() -> None:
    previous = "Set your phone's time to automatic and try a fresh code from the app."
    sentence = "Set the phone's time to automatic and try a fresh code."
    assert cause(sentence, dataclasses.replace(SOURCE, previous=previous)) == "repeat"
    again = dataclasses.replace(SOURCE, approved=APPROVED + "\n" + previous, previous=previous)
    assert cause(sentence, again) is None


def test_a_short_sentence_of_the_previous_reply_said_word_for_word_again_is_a_repeat() -> None:
    previous = "That is not something I can do here. I can help with logins, billing and orders."
    short = "That's not something I can do here!"
    assert cause("That is not something I can do here.", dataclasses.replace(SOURCE, previous=previous)) == "repeat"
    assert cause(short, dataclasses.replace(SOURCE, previous=previous)) is None  # different words: not verbatim
    # a model streams "Lead-in:" and the answer as two pieces; each is a run of the previous reply's words
    joined = "To be clear: that is not something I can do here. I can help with logins, billing and orders."
    assert cause("To be clear:", dataclasses.replace(SOURCE, previous=joined)) is None  # three words: too short
    assert cause("that is not something I can do here.", dataclasses.replace(SOURCE, previous=joined)) == "repeat"
    # said again because this turn's approved content says it too: allowed
    again = dataclasses.replace(SOURCE, approved=APPROVED + "\nThat is not something I can do here.", previous=previous)
    assert cause("That is not something I can do here.", again) is None
    # a pleasantry of a few words is not a repeat
    assert cause("Thanks a lot!", dataclasses.replace(SOURCE, previous="Thanks a lot! " + previous)) is None


def test_coverage_tells_which_template_sentences_the_model_already_said() -> None:
    assert GROUNDING is not None
    said = "Choose Forgot password on the sign-in page, enter your account's email and open the link we send."
    first, second = 'On the sign-in page choose "Forgot password", enter the email on your account.', (
        "If it doesn't arrive within a few minutes, check spam or ask me to resend it."
    )
    assert GROUNDING.covered(first, by=said)
    assert not GROUNDING.covered(second, by=said)


# ---------------------------------------------------------------------- the responder's skeleton


def _runner(replies: list[str], *, guards: Guards | None = None) -> tuple[SupportRunner, ScriptedEngine]:
    engine = ScriptedEngine(replies=replies)
    ctx = dataclasses.replace(CTX, engine=engine.bind(CTX.settings, CTX.offline), guards=guards or CTX.guards)
    return SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx), engine


async def test_the_path_to_a_person_and_the_correction_offer_come_from_the_templates() -> None:
    runner, engine = _runner(["Choose Forgot password on the sign-in page and open the link we email you."])
    result = await runner.turn("r1", "I forgot my password")
    t = CTX.templates
    assert result.reply is not None
    lines = result.reply.split("\n")
    assert lines[0] == ANSWER.ack  # the acknowledgement first
    assert lines[1].startswith("Choose Forgot password on the sign-in page")  # then the model's answer
    assert lines[-2:] == [t.footer_human.standard, t.footer_correct.standard]
    assert not [g for g in result.guards if g["tripped"]]
    engine.assert_used_up()


async def test_what_the_model_leaves_out_of_the_approved_answer_is_added_after_it() -> None:
    runner, _ = _runner(["Choose Forgot password on the sign-in page and open the link we email you."])
    result = await runner.turn("r2", "I forgot my password")
    assert result.reply is not None
    assert "check spam or ask me to resend it" in result.reply  # the template's second sentence
    assert "stays valid for 30 minutes" in result.reply


async def test_skeleton_lines_the_model_writes_again_are_not_doubled() -> None:
    footer = CTX.templates.footer_human.standard
    runner, _ = _runner([f"You need a new password to get back in. {footer}"])
    result = await runner.turn("r3", "I forgot my password")
    assert result.reply is not None
    assert result.reply.count(footer) == 1 and result.reply.count(ANSWER.ack) == 1


async def test_a_draft_that_leaks_the_prompt_falls_back_to_the_offline_reply_word_for_word() -> None:
    runner, _ = _runner(["Approved content: You need a new password to get back in. Tone: standard."])
    offline, _ = _runner([])
    result = await runner.turn("r4", "I forgot my password")
    expected = await offline.turn("r4", "I forgot my password")
    assert result.reply == expected.reply and result.mode == "bot"
    assert [(g["guard"], g["reason"], g["effect"]) for g in result.guards if g["tripped"]] == [
        ("grounding", "framing_leak", "fallback")
    ]


async def test_a_reply_without_a_head_whose_first_model_sentence_falls_back_keeps_its_footer_line() -> None:
    """An out-of-scope answer has no acknowledgement: when the model's first sentence is rejected, the template's
    body is the first text out, and the path to a person still goes on its own line, as offline."""
    message = "can you pick a good wine to go with grilled salmon tonight"
    runner, _ = _runner(["Approved content: wine is outside what I do."])
    offline, _ = _runner([])
    result = await runner.turn("r6", message)
    expected = await offline.turn("r6", message)
    assert expected.reply is not None and "\n" in expected.reply
    assert result.reply == expected.reply
    assert [g["reason"] for g in result.guards if g["tripped"]] == ["framing_leak"]


async def test_the_output_guard_still_halts_a_grounded_sentence_it_forbids(tmp_path: Path) -> None:
    """A tenant that forbids offering to resend links: the model's grounded offer is stopped mid-stream."""
    guards_file = (POLICY_DIR / "guards.yaml").read_text()
    marker = "  unauthorized_promise:\n"
    (tmp_path / "guards.yaml").write_text(guards_file.replace(marker, marker + "    - '\\bresend\\b'\n", 1))
    bundle = PolicyBundle(tmp_path, fallback=POLICY_DIR)
    guards = dataclasses.replace(CTX.guards, bundle=bundle)
    draft = "Sorry, that's annoying. If the link doesn't arrive, ask me to resend it. Bye."
    runner, _ = _runner([draft], guards=guards)
    events = [e async for e in runner.stream("r5", "I forgot my password")]
    shown = "".join(e.data["text"] for e in events if e.type == "token")
    assert shown == f"{ANSWER.ack}\nSorry, that's annoying."
    kinds = [e.type for e in events]
    assert kinds.index("guard") < kinds.index("handoff") < kinds.index("result")
    result = events[-1].data
    assert result["mode"] == "human" and result["decision"]["reason"] == "unauthorized_promise"


def test_a_short_sentence_from_an_earlier_reply_than_the_last_is_a_repeat_too() -> None:
    """A small model copies a refusal it saw two replies back into an answer that does help: the customer reads
    "I can't do that" next to the steps. Short sentences are checked word for word against the last few replies."""
    refusal = "That is not something I can do here."
    earlier = [f"{refusal} I can help with logins, billing and orders."]
    source = dataclasses.replace(SOURCE, previous="Which order do you mean?", earlier=earlier)
    assert cause(refusal, source) == "repeat"
    assert cause(refusal, dataclasses.replace(SOURCE, previous="Which order do you mean?")) is None


async def test_the_responder_checks_a_model_sentence_against_the_replies_before_the_last_one() -> None:
    wine, red = "can you pick a good wine to go with grilled salmon tonight", "what about a cheap red then"
    offline, _ = _runner([])
    first, second = await offline.turn("r7", wine), await offline.turn("r7", red)
    assert first.reply is not None and second.reply is not None
    refusal = first.reply.split("\n")[0].split(". ")[0].rstrip(".") + "."  # the first reply's opening sentence
    assert refusal not in second.reply  # so it is an earlier reply's, not the previous one's
    leak = "Approved content: none."  # rejected: the template answers these two turns word for word
    answer = "Choose Forgot password on the sign-in page and open the link we email you."
    runner, engine = _runner([leak, leak, f"{refusal} {answer}"])
    assert (await runner.turn("r8", wine)).reply == first.reply
    assert (await runner.turn("r8", red)).reply == second.reply
    result = await runner.turn("r8", "I forgot my password")
    engine.assert_used_up()
    assert result.reply is not None and refusal not in result.reply
    assert [g["reason"] for g in result.guards if g["tripped"]] == ["repeat"]
