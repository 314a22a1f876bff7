"""The stream's output guard is incremental: each released piece is read with a bounded tail of what passed
before, not with the whole draft again, and still catches what spans two pieces."""

from __future__ import annotations

import pytest

from tactful.agents.guards.rules import SCAN_TAIL_CHARS, Guards
from tactful.graphs.context import build_context
from tactful.settings import Settings


@pytest.fixture(scope="module")
def guards() -> Guards:
    return build_context(Settings(engine="offline"), cache=False).guards


def test_each_piece_is_read_with_a_bounded_tail(guards: Guards, monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[int] = []
    real = Guards.output_check

    def counting(self: Guards, draft: str, **kwargs: object) -> object:
        read.append(len(draft))
        return real(self, draft, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Guards, "output_check", counting)
    scan = guards.output_scan(turn=1)
    sentence = "Your parcel left the depot this morning and should arrive on Thursday. "
    for _ in range(40):
        assert not scan.add(sentence)["tripped"]
    assert len(scan.text) == 40 * len(sentence)
    assert max(read) <= SCAN_TAIL_CHARS + len(sentence)
    assert sum(read) < 40 * (SCAN_TAIL_CHARS + len(sentence))  # linear in the draft, not quadratic


def test_a_promise_split_across_two_pieces_trips(guards: Guards) -> None:
    scan = guards.output_scan(turn=1)
    assert not scan.add("Thanks for your patience. We will ")["tripped"]
    v = scan.add("issue a full refund today.")
    assert v["tripped"] and v["reason"] == "unauthorized_promise"
    assert scan.text == "Thanks for your patience. We will "  # the tripping piece is not part of the draft


def test_system_text_quoted_piece_by_piece_trips_on_the_sum(guards: Guards) -> None:
    system = next(t for t in guards.system_texts if len(t.split()) > 60)
    words = system.split()
    scan = guards.output_scan(turn=1)
    verdicts = [scan.add(" ".join(words[i : i + 6]) + " ") for i in range(0, 60, 6)]
    assert any(v["tripped"] and v["reason"] == "system_text_leak" for v in verdicts)


def test_a_short_draft_that_passed_the_stream_whole_is_not_checked_again(guards: Guards) -> None:
    scan = guards.output_scan(turn=3)
    pieces = ["Your parcel left the depot this morning. ", "It should arrive on Thursday."]
    for piece in pieces:
        assert not scan.add(piece)["tripped"]
    draft = "".join(pieces)
    assert not guards.output_check(draft, turn=3)["tripped"]  # what the node would have found
    assert guards.passed(draft)
    assert not guards.passed(draft)  # consumed: a second node run checks again
    assert not guards.passed("A draft no stream check read.")


def test_a_tripped_piece_or_a_long_draft_is_not_noted(guards: Guards) -> None:
    scan = guards.output_scan(turn=1)
    assert not scan.add("Thanks for your patience. We will ")["tripped"]
    assert scan.add("issue a full refund today.")["tripped"]
    assert not guards.passed("Thanks for your patience. We will issue a full refund today.")
    long = guards.output_scan(turn=1)
    sentence = "Your parcel left the depot this morning and should arrive on Thursday. "
    for _ in range(8):
        long.add(sentence)
    assert len(long.text) > SCAN_TAIL_CHARS and not guards.passed(long.text)  # its last window was a tail only
