"""The offline intent model on small synthetic data written for these tests."""

from __future__ import annotations

import json
from itertools import product
from pathlib import Path

import numpy as np
import pytest

from tactful.agents.intent.model import ARRAYS_FILE, META_FILE, IntentModel, IntentPrediction, stratified_folds
from tactful.errors import InputError

_OPENERS = ["", "hi, ", "hello, ", "please ", "hey there, "]
_CLOSERS = ["", " now", " today", " thanks", " as soon as possible"]
_CORES = {
    "password_reset": [
        "I forgot my password",
        "reset my password",
        "my password does not work anymore",
        "I need a new password for my login",
        "help me change my login password",
    ],
    "refund_request": [
        "I want a refund",
        "give me my money back",
        "refund my last order",
        "I was charged twice and want the money returned",
        "how do I get a refund for this purchase",
    ],
    "shipping_status": [
        "where is my package",
        "track my parcel",
        "my delivery has not arrived",
        "when will my order ship",
        "what is the shipping status of my order",
    ],
    "cancel_subscription": [
        "cancel my subscription",
        "stop my monthly plan",
        "I want to end my membership",
        "terminate my subscription plan",
        "unsubscribe me from the monthly plan",
    ],
}
OOS_EXAMPLES = [
    "what is the capital of peru",
    "tell me a funny joke",
    "how tall is the eiffel tower",
    "recommend a good movie for tonight",
    "what will the weather be like tomorrow",
    "play some jazz music",
    "how do I bake banana bread",
    "who won the basketball game yesterday",
]
UNRELATED = [
    "which planet has the most moons in the solar system",
    "write me a poem about autumn leaves and rivers",
    "how many legs does a spider have",
]


def synthetic(per_class: int = 20) -> tuple[list[str], list[str]]:
    """Deterministic labelled phrases: opener × core × closer, every 3rd combination per intent."""
    texts: list[str] = []
    labels: list[str] = []
    for label, cores in _CORES.items():
        combos = [f"{o}{c}{e}" for o, c, e in product(_OPENERS, cores, _CLOSERS)]
        picked = combos[::3][:per_class]
        texts.extend(picked)
        labels.extend([label] * len(picked))
    return texts, labels


@pytest.fixture(scope="module")
def model() -> IntentModel:
    texts, labels = synthetic()
    return IntentModel.fit(texts, labels, oos_texts=OOS_EXAMPLES)


def test_predicts_label_confidence_and_runner_up(model: IntentModel) -> None:
    assert model.labels == sorted(_CORES)
    cases = {
        "I can't remember my password, please reset it": "password_reset",
        "where is my parcel, it has not arrived": "shipping_status",
        "I would like my money back for the order": "refund_request",
        "please cancel my monthly subscription": "cancel_subscription",
    }
    preds = model.predict(list(cases))
    assert [p.top_label for p in preds] == list(cases.values())
    for pred in preds:
        assert isinstance(pred, IntentPrediction)
        assert not pred.out_of_scope
        assert pred.label == pred.top_label
        assert 0.0 <= pred.runner_up_confidence <= pred.confidence <= 1.0
        assert pred.confidence > 0.5
        assert pred.runner_up in model.labels and pred.runner_up != pred.top_label
    assert model.predict_one("reset my password") == model.predict(["reset my password"])[0]
    assert model.predict([]) == []


def test_prediction_is_frozen(model: IntentModel) -> None:
    pred = model.predict_one("track my parcel")
    with pytest.raises(ValueError):
        pred.label = "other"  # type: ignore[misc]


def test_flags_unrelated_text_as_out_of_scope(model: IntentModel) -> None:
    preds = model.predict(UNRELATED)
    assert all(p.out_of_scope for p in preds)
    assert all(p.label == "out_of_scope" and p.top_label in model.labels for p in preds)
    assert model.info["stats"]["scope_rule"] == "learned"


def test_out_of_scope_rule_without_examples() -> None:
    texts, labels = synthetic()
    plain = IntentModel.fit(texts, labels)
    assert plain.info["stats"]["scope_rule"] == "heuristic"
    assert sum(p.out_of_scope for p in plain.predict(UNRELATED)) >= 2
    assert not any(p.out_of_scope for p in plain.predict(["reset my password", "where is my package"]))


def test_oos_label_rows_are_examples_not_a_class() -> None:
    texts, labels = synthetic()
    model = IntentModel.fit(
        [*texts, *OOS_EXAMPLES], [*labels, *["oos"] * len(OOS_EXAMPLES)], oos_label="oos", random_state=3
    )
    assert "oos" not in model.labels
    assert model.oos_label == "oos"
    assert model.info["stats"]["n_oos"] == len(OOS_EXAMPLES)
    pred = model.predict_one(UNRELATED[0])
    assert pred.out_of_scope and pred.label == "oos"


def test_save_load_round_trip_gives_identical_predictions(model: IntentModel, tmp_path: Path) -> None:
    model.save(tmp_path / "m")
    loaded = IntentModel.load(tmp_path / "m")
    probe = ["reset my password", "where is my package", *UNRELATED, "", "!!!"]
    assert [p.model_dump() for p in loaded.predict(probe)] == [p.model_dump() for p in model.predict(probe)]
    assert loaded.labels == model.labels
    assert loaded.threshold == model.threshold
    meta = json.loads((tmp_path / "m" / META_FILE).read_text())
    assert meta["labels"] == model.labels
    assert {"sklearn", "numpy", "scipy"} <= set(meta["versions"])
    assert "threshold" in meta and "temperature" in meta


def test_fit_is_deterministic() -> None:
    texts, labels = synthetic(per_class=12)
    a = IntentModel.fit(texts, labels, random_state=7)
    b = IntentModel.fit(texts, labels, random_state=7)
    probe = ["refund please", "cancel it", *UNRELATED]
    assert a.threshold == b.threshold
    assert [p.model_dump() for p in a.predict(probe)] == [p.model_dump() for p in b.predict(probe)]


def test_tiny_classes_and_a_few_hundred_phrases_fit() -> None:
    texts = ["reset my password", "forgot password", "refund please", "where is my package"]
    labels = ["password", "password", "refund", "shipping"]  # classes of 2, 1 and 1 examples
    model = IntentModel.fit(texts, labels)
    pred = model.predict_one("I forgot my password")
    assert pred.top_label == "password"
    assert 0.0 <= pred.confidence <= 1.0
    single = IntentModel.fit(["a refund", "my parcel"], ["refund", "shipping"])  # one example each, 2 classes
    assert single.predict_one("refund").top_label == "refund"

    many_texts, many_labels = synthetic(per_class=20)
    many = IntentModel.fit(many_texts * 4, many_labels * 4, oos_texts=OOS_EXAMPLES)  # ~320 phrases, 4 intents
    assert set(many.labels) >= set(many_labels)  # fit time is a benchmark figure, not a test assertion


def test_folds_keep_every_class_in_training() -> None:
    labels = ["a"] * 7 + ["b"] * 2 + ["c"]
    folds = stratified_folds(labels, 5, random_state=0)
    assert folds[-1] == -1  # a single example is never held out
    for f in range(5):
        train = {label for label, fold in zip(labels, folds, strict=True) if fold != f}
        assert train == {"a", "b", "c"}
    assert np.array_equal(folds, stratified_folds(labels, 5, random_state=0))


@pytest.mark.parametrize(
    ("texts", "labels", "message"),
    [
        (["a", "b"], ["x"], "2 texts but 1 labels"),
        (["reset password", "new password"], ["pw", "pw"], "at least two in-scope intents"),
        (["reset password", 3], ["pw", "refund"], "text must be a string"),
        (["reset password", "refund"], ["pw", ""], "label must be a non-empty string"),
        (["", " "], ["pw", "refund"], "no words"),
        ("reset password", "pw", "not one string"),
    ],
)
def test_fit_rejects_bad_input(texts: list[str], labels: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        IntentModel.fit(texts, labels)


def test_load_rejects_missing_corrupt_or_incompatible(model: IntentModel, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        IntentModel.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not an intent model directory"):
        IntentModel.load(tmp_path / "empty")

    good = tmp_path / "good"
    model.save(good)
    meta = json.loads((good / META_FILE).read_text())

    (good / META_FILE).write_text("{not json")
    with pytest.raises(InputError, match="cannot read"):
        IntentModel.load(good)

    (good / META_FILE).write_text(json.dumps({**meta, "format_version": 999}))
    with pytest.raises(InputError, match="not supported"):
        IntentModel.load(good)

    (good / META_FILE).write_text(json.dumps({**meta, "labels": meta["labels"][:-1]}))
    with pytest.raises(InputError, match="corrupt"):
        IntentModel.load(good)

    (good / META_FILE).write_text(json.dumps(meta))
    (good / ARRAYS_FILE).write_bytes(b"garbage")
    with pytest.raises(InputError, match="corrupt"):
        IntentModel.load(good)

    # index arrays that do not form the CSR matrix of their shape (the checks scipy's constructor made)
    import io

    import numpy as np

    model.save(good)
    with np.load(good / ARRAYS_FILE) as npz:
        arrays = {name: npz[name] for name in npz.files}
    n_train = int(arrays["train_shape"][1])
    for name, bad in (
        ("train_indptr", arrays["train_indptr"][:-1]),
        ("train_indptr", arrays["train_indptr"][::-1].copy()),
        ("train_indices", np.where(np.arange(len(arrays["train_indices"])) == 0, n_train, arrays["train_indices"])),
        ("train_indices", arrays["train_indices"].astype(np.float64)),
        ("oos_data", arrays["oos_data"][:-1]),
    ):
        buffer = io.BytesIO()
        np.savez(buffer, **{**arrays, name: bad})
        (good / ARRAYS_FILE).write_bytes(buffer.getvalue())
        with pytest.raises(InputError, match="corrupt"):
            IntentModel.load(good)

    (good / ARRAYS_FILE).unlink()
    with pytest.raises(InputError, match="incomplete"):
        IntentModel.load(good)


def test_one_message_is_scored_without_sparse_products_to_the_same_numbers() -> None:
    """The single-message path (the intent node's) gives the sparse path's scores bit for bit."""
    import numpy as np

    from tactful.agents.intent.model import _Rows
    from tactful.graphs.context import build_context
    from tactful.settings import Settings

    core = build_context(Settings(engine="offline"), cache=False).offline.intent_model._core
    texts = [
        "",
        "hi",
        "I forgot my password",
        "where is my order",
        "can you send your soc 2 report",
        "my 2fa code isn't working and I'm locked out of the admin console again",
        "ça ne marche pas",
        "refund refund refund!!!",
        "x" * 300,
        "qqqq zzzz",
    ]
    for text in texts:
        sparse_path = core.scores_of(_Rows(core.featurizer.transform([text]), None))
        one = core.scores([text])
        for name in sparse_path._fields:
            a, b = getattr(sparse_path, name), getattr(one, name)
            assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), (text, name)
