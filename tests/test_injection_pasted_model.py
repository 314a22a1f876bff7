"""Issue 14, sixth round: the learned layer may carry a pasted-content model of its own, so the own-words model can be
refitted (with the team's hard negatives) without moving the scores of pasted e-mails. The own words are scored
by the own-words model, every pasted part by the pasted one; a file that is not a pasted-content model is refused.
Every text here is written for this file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tactful.agents.guards.corpus import rows
from tactful.agents.guards.injection import InjectionDetector, load_detector
from tactful.agents.guards.learned import InjectionModel
from tactful.errors import ConfigError
from tests import REPO_ROOT

POLICIES = REPO_ROOT / "policies"
POLICY = load_detector(POLICIES).policy

# what each toy model calls an attack: the own-words one "obey the parrot", the pasted one "feed the walrus"
OWN_ATTACKS = ["obey the parrot now", "you must obey the parrot", "the parrot says obey", "obey parrot orders"] * 5
PASTED_ATTACKS = ["feed the walrus today", "please feed the walrus", "the walrus wants food", "walrus feeding"] * 5
BENIGN = ["my card was charged twice", "where is my parcel", "how do I update my billing address",
          "the app crashes when I log in"] * 5
# a message whose own words talk about the parrot and whose quoted e-mail (a `>` quote) talks about the walrus
MESSAGE = ("Please obey the parrot and tell me about my card.\n\n"
           "> Hello, feed the walrus today please.\n> The walrus wants food.\n")


def _toy(attacks: list[str], place: str) -> InjectionModel:
    return InjectionModel.fit(attacks + BENIGN, [1] * len(attacks) + [0] * len(BENIGN),
                              info={"place": place, "thresholds": {place: 0.6} if place != "both" else {}})


def test_own_words_are_scored_by_the_own_model_and_pasted_parts_by_the_pasted_model() -> None:
    own, pasted = _toy(OWN_ATTACKS, "own"), _toy(PASTED_ATTACKS, "pasted")
    split = InjectionDetector(POLICY, model=own, pasted_model=pasted)
    scores = split.learned_scores(MESSAGE)
    assert scores["own"] > 0.6 and scores["pasted"] > 0.6
    # the same message read by the own-words model alone: its pasted part (the walrus) is not an attack to it
    single = InjectionDetector(POLICY, model=own).learned_scores(MESSAGE)
    assert single["own"] == pytest.approx(scores["own"]) and single["pasted"] < 0.5
    # and the pasted model never reads the own words: a parrot-only message scores nothing as pasted
    alone = split.learned_scores("Please obey the parrot and tell me about my card.")
    assert alone["pasted"] == 0.0 and alone["own"] > 0.6


def test_each_place_takes_its_threshold_from_the_model_that_scores_it() -> None:
    own = InjectionModel(idf=np.ones(4, dtype=np.float32), coef=np.zeros(4, dtype=np.float32), intercept=0.0,
                         info={"place": "own", "thresholds": {"own": 0.91}})
    pasted = InjectionModel(idf=np.ones(4, dtype=np.float32), coef=np.zeros(4, dtype=np.float32), intercept=0.0,
                            info={"place": "pasted", "thresholds": {"pasted": 0.87}})
    unset = POLICY.model_copy(update={"learned": POLICY.learned.model_copy(
        update={"threshold": None, "pasted_threshold": None})})
    detector = InjectionDetector(unset, model=own, pasted_model=pasted)
    assert (detector.threshold("own"), detector.threshold("pasted")) == (0.91, 0.87)
    assert detector.scorer("own") is own and detector.scorer("pasted") is pasted
    # without the own-words model the layer is off, pasted model or not
    off = InjectionDetector(unset, model=None, pasted_model=pasted)
    assert off.scorer("pasted") is None and off.learned_scores(MESSAGE) == {"own": 0.0, "pasted": 0.0}


def test_a_corrupt_or_misplaced_pasted_model_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.npz"
    _toy(PASTED_ATTACKS, "pasted").save(broken)
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])  # a truncated copy
    with pytest.raises(ConfigError):
        InjectionModel.load(broken, place="pasted")
    own_file = tmp_path / "own.npz"
    _toy(OWN_ATTACKS, "own").save(own_file)
    with pytest.raises(ConfigError, match="expected 'pasted'"):  # the own-words model named as the pasted one
        InjectionModel.load(own_file, place="pasted")
    assert InjectionModel.load(own_file).place == "own"


def test_a_policy_naming_a_corrupt_pasted_model_fails_to_load_and_a_missing_one_falls_back(tmp_path: Path) -> None:
    policy_file = tmp_path / "injection.yaml"
    text = (POLICIES / "injection.yaml").read_text(encoding="utf-8")
    _toy(OWN_ATTACKS, "own").save(tmp_path / "own.npz")
    own_line = "  model: own.npz\n  pasted_model: pasted.npz\n"
    lines = [ln for ln in text.splitlines(keepends=True)
             if not ln.startswith(("  model:", "  pasted_model:"))]
    at = lines.index("learned:\n") + 1
    policy_file.write_text("".join([*lines[:at], own_line, *lines[at:]]), encoding="utf-8")
    missing = InjectionDetector.from_file(policy_file)
    assert missing.model is not None and missing.pasted_model is None  # the own-words model scores both places
    (tmp_path / "pasted.npz").write_bytes(b"not a model at all")
    with pytest.raises(ConfigError):
        InjectionDetector.from_file(policy_file)


def test_the_shipped_policy_names_a_pasted_model_fitted_for_pasted_content() -> None:
    detector = load_detector(POLICIES)
    assert detector.model is not None and detector.model.place in ("own", "both")
    if POLICY.learned.pasted_model:
        assert detector.pasted_model is not None and detector.pasted_model.place == "pasted"
        assert "own" not in (detector.pasted_model.info or {}).get("thresholds", {})


def test_the_team_negatives_are_fitted_on_the_own_words_model_only(monkeypatch: pytest.MonkeyPatch) -> None:
    negatives = rows(REPO_ROOT, "train", sources=("negatives",))
    assert len(negatives) >= 60 and all(r.label == 0 and r.source == "negatives" for r in negatives)
    assert rows(REPO_ROOT, "heldout", sources=("negatives",)) == []  # never measured on
    from tactful.commands import guards

    asked: dict[str, tuple[str, ...]] = {}

    def fake_rows(data: Path, part: str, *, sources: tuple[str, ...]) -> list[object]:
        asked[part + str(len(asked))] = sources
        return []

    monkeypatch.setattr(guards, "rows", fake_rows)
    guards.fit_rows(REPO_ROOT, "train", "own")
    guards.fit_rows(REPO_ROOT, "train", "pasted")
    guards.fit_rows(REPO_ROOT, "train", "both")
    own, pasted, both = asked.values()
    assert "negatives" in own and "negatives" not in pasted and "negatives" not in both
    assert set(own) - {"negatives"} == set(pasted) == set(both)
